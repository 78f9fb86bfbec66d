/* ferry guestfix: encrypted (LUKS) devices.
 *
 * A guest whose root is inside LUKS shows no operating system until the
 * device is opened.  Passphrases come from files (--key-file
 * DEVICE:PATH), never from the command line; they are read in the check
 * step, handed to the appliance once per device, and their memory is
 * cleared when the run ends.  libguestfs masks key arguments in its trace,
 * so -v -v does not print them either.
 *
 * The mapping of an opened device is named luks-UUID (the name most
 * installers give it in /etc/crypttab), so fstab entries naming
 * /dev/mapper/luks-UUID resolve during inspection; entries naming the
 * filesystem by UUID= resolve whatever the mapping is called. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "guestfix/internal.h"

/* A passphrase longer than this is not one (cryptsetup reads at most 512
 * characters from a terminal; key files can be longer, but libguestfs
 * passes the key as a C string, so binary key files cannot work). */
#define MAX_PASSPHRASE 8192

/* Rounds of "open what can be opened, then activate volume groups": LUKS
 * inside LVM inside LUKS needs two. */
#define MAX_ROUNDS 3

struct gf_luks {
  char **pass;      /* one per opts->keys entry */
  char **found;     /* every LUKS device seen (NULL-terminated) */
  size_t n_found;
  char **locked;    /* those left locked: no passphrase for them */
  size_t n_locked;
  char **mapped;    /* /dev/mapper/NAME of the opened ones */
  size_t n_mapped;
};

int
guestfix_key_parse (const char *arg, struct guestfix_key *k)
{
  const char *colon = strchr (arg, ':');
  if (!colon || colon == arg || !colon[1])
    return ferry_error (FERRY_E_USAGE, "--key-file %s: expected DEVICE:FILE "
                        "(DEVICE is e.g. /dev/sda2, or all)", arg);
  size_t dl = (size_t) (colon - arg);
  if (dl >= sizeof k->device)
    return ferry_error (FERRY_E_USAGE, "--key-file %s: the device name is "
                        "too long", arg);
  memcpy (k->device, arg, dl);
  k->device[dl] = 0;
  if (strcmp (k->device, "all") != 0 && strncmp (k->device, "/dev/", 5) != 0)
    return ferry_error (FERRY_E_USAGE, "--key-file %s: DEVICE must be a "
                        "device name (/dev/sda2) or all", arg);
  k->path = colon + 1;
  return 0;
}

static struct gf_luks *
luks_of (struct gf_ctx *c)
{
  if (!c->luks && !(c->luks = calloc (1, sizeof *c->luks)))
    abort ();
  return c->luks;
}

static void
push (char ***v, size_t *n, const char *s)
{
  char **nv = realloc (*v, (*n + 2) * sizeof *nv);
  if (!nv)
    abort ();
  nv[(*n)++] = gf_strdup (s);
  nv[*n] = NULL;
  *v = nv;
}

static bool
member (char *const *v, const char *s)
{
  for (; v && *v; v++)
    if (strcmp (*v, s) == 0)
      return true;
  return false;
}

/* Read the passphrase in PATH: the whole file, less one trailing newline
 * (as "echo PASSPHRASE > FILE" writes it). */
static char *
read_passphrase (const char *dev, const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ferry_error_errno (FERRY_E_INPUT, errno, "--key-file %s:%s", dev, path);
    return NULL;
  }
  char *buf = malloc (MAX_PASSPHRASE + 2);
  if (!buf)
    abort ();
  size_t len = 0;
  for (;;) {
    ssize_t n = read (fd, buf + len, MAX_PASSPHRASE + 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      close (fd);
      explicit_bzero (buf, MAX_PASSPHRASE + 2);
      free (buf);
      ferry_error_errno (FERRY_E_INPUT, e, "--key-file %s:%s", dev, path);
      return NULL;
    }
    if (n == 0 || (len += (size_t) n) > MAX_PASSPHRASE)
      break;
  }
  close (fd);
  buf[len] = 0;
  const char *why = NULL;
  if (len > MAX_PASSPHRASE)
    why = "longer than 8192 bytes";
  else if (memchr (buf, 0, len))
    why = "holds a NUL byte (binary key files are not supported)";
  if (!why) {
    if (len && buf[len - 1] == '\n')
      buf[--len] = 0;
    if (len && buf[len - 1] == '\r')
      buf[--len] = 0;
    if (!len)
      why = "empty";
  }
  if (why) {
    explicit_bzero (buf, MAX_PASSPHRASE + 2);
    free (buf);
    ferry_error (FERRY_E_INPUT, "--key-file %s:%s: the passphrase file is %s",
                 dev, path, why);
    return NULL;
  }
  return buf;
}

int
gf_luks_load_keys (struct gf_ctx *c)
{
  if (!c->o->n_keys)
    return 0;
  struct gf_luks *l = luks_of (c);
  if (!(l->pass = calloc (c->o->n_keys, sizeof *l->pass)))
    abort ();
  for (size_t i = 0; i < c->o->n_keys; i++)
    if (!(l->pass[i] = read_passphrase (c->o->keys[i].device,
                                        c->o->keys[i].path)))
      return -1;
  return 0;
}

/* Whether key I was given for DEV (by name as the user wrote it, or by
 * the appliance's canonical name for it). */
static bool
key_names (struct gf_ctx *c, size_t i, const char *dev)
{
  const char *want = c->o->keys[i].device;
  if (strcmp (want, dev) == 0)
    return true;
  char *canon = guestfs_canonical_device_name (c->g, want);
  bool same = canon && strcmp (canon, dev) == 0;
  free (canon);
  return same;
}

/* Try the passphrases given for DEV (its own first, then "all" ones).
 * 1: opened; 0: none given; -1: none of them opens it (error set). */
static int
open_one (struct gf_ctx *c, const char *dev)
{
  struct gf_luks *l = luks_of (c);
  char tried[600] = "", why[400] = "";
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < c->o->n_keys; i++) {
      bool all = strcmp (c->o->keys[i].device, "all") == 0;
      if (pass == 0 ? all || !key_names (c, i, dev) : !all)
        continue;
      char *uuid = guestfs_luks_uuid (c->g, dev);
      char *name = uuid ? gf_asprintf ("luks-%s", uuid)
                        : gf_asprintf ("ferry-luks%zu", l->n_mapped);
      free (uuid);
      int rc = guestfs_cryptsetup_open (c->g, dev, l->pass[i], name, -1);
      if (rc == 0) {
        char *m = gf_asprintf ("/dev/mapper/%s", name);
        push (&l->mapped, &l->n_mapped, m);
        ferry_info (c->log, "guestfix: opened the LUKS device %s as %s "
                    "(passphrase from %s)", dev, m, c->o->keys[i].path);
        free (m);
        free (name);
        return 1;
      }
      free (name);
      size_t t = strlen (tried);
      snprintf (tried + t, sizeof tried - t, "%s%s", t ? ", " : "",
                c->o->keys[i].path);
      const char *e = guestfs_last_error (c->g);
      snprintf (why, sizeof why, "%s", e ? e : "unknown error");
      for (char *p = why; *p; p++)
        if (*p == '\n')
          *p = ' ';
      ferry_debug (c->log, "guestfix: %s: passphrase from %s: %s", dev,
                   c->o->keys[i].path, why);
    }
  if (!*tried)
    return 0;
  ferry_error (FERRY_E_INPUT, "%s: the passphrase in %s does not open the "
               "LUKS-encrypted device %s (%s)", c->disk, tried, dev, why);
  return -1;
}

/* The disk's block devices that may hold LUKS: the whole disk, its
 * partitions, logical volumes (found again after each round). */
static char **
candidates (struct gf_ctx *c, size_t *n)
{
  static char **(*const lists[]) (guestfs_h *) = {
    guestfs_list_devices, guestfs_list_partitions, guestfs_lvs,
  };
  char **v = NULL;
  *n = 0;
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
    char **d = lists[i] (c->g);
    if (!d) {
      gf_free_strings (v);
      gf_gerror (c, FERRY_E_INPUT, "listing the disk's block devices");
      return NULL;
    }
    for (size_t j = 0; d[j]; j++)
      push (&v, n, d[j]);
    gf_free_strings (d);
  }
  if (!v) {
    if (!(v = calloc (1, sizeof *v)))
      abort ();
  }
  return v;
}

int
gf_luks_open (struct gf_ctx *c)
{
  struct gf_luks *l = luks_of (c);
  for (int round = 0; round < MAX_ROUNDS; round++) {
    size_t n, opened = 0;
    char **devs = candidates (c, &n);
    if (!devs)
      return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
      if (member (l->found, devs[i]))
        continue;
      char *type = guestfs_vfs_type (c->g, devs[i]);
      bool luks = type && strcmp (type, "crypto_LUKS") == 0;
      free (type);
      if (!luks)
        continue;
      push (&l->found, &l->n_found, devs[i]);
      int o = open_one (c, devs[i]);
      if (o < 0)
        rc = -1;
      else if (o == 0)
        push (&l->locked, &l->n_locked, devs[i]);
      else
        opened++;
    }
    gf_free_strings (devs);
    if (rc < 0)
      return -1;
    if (!opened)
      break;
    /* Volume groups inside the opened devices. */
    if (guestfs_lvm_scan (c->g, 1) < 0)
      return gf_gerror (c, FERRY_E_INPUT, "activating the volume groups "
                        "inside the opened LUKS devices");
  }

  /* A key for a device that is not an encrypted one is a mistake worth
   * saying: the operator expected something to be opened with it. */
  for (size_t i = 0; i < c->o->n_keys; i++) {
    if (strcmp (c->o->keys[i].device, "all") == 0)
      continue;
    bool used = false;
    for (size_t j = 0; j < l->n_found && !used; j++)
      used = key_names (c, i, l->found[j]);
    if (!used) {
      char list[400] = "";
      for (size_t j = 0; j < l->n_found; j++) {
        size_t t = strlen (list);
        snprintf (list + t, sizeof list - t, "%s%s", j ? ", " : "",
                  l->found[j]);
      }
      return ferry_error (FERRY_E_INPUT, "%s: --key-file %s:%s: %s is not a "
                          "LUKS-encrypted device on this disk (encrypted "
                          "devices: %s)", c->disk, c->o->keys[i].device,
                          c->o->keys[i].path, c->o->keys[i].device,
                          *list ? list : "none");
    }
  }
  for (size_t i = 0; i < l->n_locked; i++)
    gf_note (c, "%s is LUKS-encrypted and was not opened (no --key-file "
             "for it): nothing on it was inspected or changed",
             l->locked[i]);
  return 0;
}

char *const *
gf_luks_mapped (struct gf_ctx *c)
{
  return c->luks ? c->luks->mapped : NULL;
}

char *
gf_luks_hint (struct gf_ctx *c)
{
  if (!c->luks || !c->luks->n_locked)
    return NULL;
  const struct gf_luks *l = c->luks;
  char list[400] = "";
  for (size_t i = 0; i < l->n_locked; i++) {
    size_t t = strlen (list);
    snprintf (list + t, sizeof list - t, "%s%s", i ? ", " : "", l->locked[i]);
  }
  return gf_asprintf ("; %s %s LUKS-encrypted and the root filesystem may be "
                      "inside: give the passphrase in a file with --key-file "
                      "%s:FILE (or --key-file all:FILE)", list,
                      l->n_locked == 1 ? "is" : "are", l->locked[0]);
}

void
gf_luks_free (struct gf_ctx *c)
{
  struct gf_luks *l = c->luks;
  if (!l)
    return;
  for (size_t i = 0; l->pass && i < c->o->n_keys; i++)
    if (l->pass[i]) {
      explicit_bzero (l->pass[i], strlen (l->pass[i]));
      free (l->pass[i]);
    }
  free (l->pass);
  gf_free_strings (l->found);
  gf_free_strings (l->locked);
  gf_free_strings (l->mapped);
  free (l);
  c->luks = NULL;
}
