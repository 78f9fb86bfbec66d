/* ferry: OVA archives (tar) walked in one forward pass, each member read
 * through a sequential transport, with the .mf manifest checked. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "importer/archive.h"
#include "importer/decompress.h"
#include "importer/hashpipe.h"
#include "importer/readahead.h"
#include "importer/seqread.h"

#define OVA_RBUF (1024 * 1024)
#define OVA_MANIFEST_MAX (1024 * 1024)

struct ova_digest {
  char *name;
  char sha1[41];
  char sha256[65];
};

struct ova_mf_entry {
  char *name;
  bool sha256; /* else SHA-1 */
  char hex[65];
  bool checked;
};

struct ferry_ova {
  struct archive *ar;
  struct ferry_transport *src;
  struct ferry_readahead *ra; /* random-access sources */
  uint64_t src_off;
  unsigned char *rbuf;
  bool verify, eof, failed;
  const struct ferry_log *log;
  uint64_t n_members;

  /* The current member. */
  pthread_mutex_t lock;
  bool have_cur, cur_ended, cur_opened;
  unsigned gen;
  char *cur_name;
  uint64_t cur_size, cur_index;
  uint64_t cur_pos; /* bytes taken from the archive */
  size_t head_len;
  unsigned char head[FERRY_SEQ_HEAD];
  EVP_MD_CTX *sha256, *sha1;
  struct ferry_hashpipe *hp; /* updates them in a thread of its own */
  bool tapped; /* hp reads the member from ra itself */
  /* The digests the current member needs: both until the manifest has
   * been read, then those its entries for the member name.  Hashing a
   * disk twice costs more CPU than inflating it. */
  bool want256, want1;

  /* Digests of members already passed, and the manifest. */
  struct ova_digest *digests;
  size_t n_digests, cap_digests;
  struct ova_mf_entry *mf;
  size_t n_mf;
  bool has_mf;
};

struct member_priv {
  struct ferry_ova *a;
  unsigned gen;
};

/* ---- reading the archive from a transport ---- */

static la_ssize_t
ova_read_cb (struct archive *ar, void *cd, const void **buf)
{
  struct ferry_ova *a = cd;
  struct ferry_transport *t = a->src;
  int64_t r;

  /* Read-ahead chunks go to libarchive as they are, without a copy. */
  if (a->ra)
    r = ferry_readahead_next (a->ra, buf);
  else {
    *buf = a->rbuf;
    r = t->ops->pread_partial (t, a->rbuf, OVA_RBUF, a->src_off);
  }
  if (r < 0) {
    archive_set_error (ar, EIO, "%s", ferry_error_msg ());
    return -1;
  }
  a->src_off += (uint64_t) r;
  return (la_ssize_t) r;
}

static la_int64_t
ova_skip_cb (struct archive *ar, void *cd, la_int64_t request)
{
  struct ferry_ova *a = cd;
  int64_t size;
  uint64_t n;

  (void) ar;
  if (!a->ra || request <= 0)
    return 0; /* a stream: libarchive reads and discards */
  size = ferry_transport_size (a->src);
  if (size < 0 || a->src_off >= (uint64_t) size)
    return 0;
  n = (uint64_t) request;
  if (n > (uint64_t) size - a->src_off)
    n = (uint64_t) size - a->src_off;
  a->src_off += n;
  ferry_readahead_seek (a->ra, a->src_off);
  return (la_int64_t) n;
}

static int
ova_archive_error (struct ferry_ova *a, const char *what)
{
  const char *m = archive_error_string (a->ar);
  a->failed = true;
  return ferry_error (FERRY_E_INPUT, "%s: %s%s%s", a->src->name, what,
                      m ? ": " : "", m ? m : "");
}

/* ---- digests and the manifest ---- */

static void
hex_of (const unsigned char *d, unsigned n, char *out)
{
  static const char x[] = "0123456789abcdef";
  for (unsigned i = 0; i < n; i++) {
    out[2 * i] = x[d[i] >> 4];
    out[2 * i + 1] = x[d[i] & 15];
  }
  out[2 * n] = '\0';
}

static const struct ova_digest *
find_digest (const struct ferry_ova *a, const char *name)
{
  for (size_t i = 0; i < a->n_digests; i++)
    if (strcmp (a->digests[i].name, name) == 0)
      return &a->digests[i];
  return NULL;
}

static int
check_entry (struct ferry_ova *a, struct ova_mf_entry *e,
             const struct ova_digest *dg)
{
  const char *have = e->sha256 ? dg->sha256 : dg->sha1;

  e->checked = true;
  if (strcasecmp (have, e->hex) != 0) {
    a->failed = true;
    return ferry_error (FERRY_E_INPUT,
                        "%s: member %s: %s digest mismatch: the manifest "
                        "says %s, the member has %s (corrupt or altered "
                        "archive)",
                        a->src->name, e->name, e->sha256 ? "SHA256" : "SHA1",
                        e->hex, have);
  }
  ferry_debug (a->log, "%s: member %s: %s digest matches the manifest",
               a->src->name, e->name, e->sha256 ? "SHA256" : "SHA1");
  return 0;
}

/* Check one passed member against the manifest entries naming it. */
static int
check_member (struct ferry_ova *a, const struct ova_digest *dg)
{
  for (size_t i = 0; i < a->n_mf; i++)
    if (strcmp (a->mf[i].name, dg->name) == 0
        && check_entry (a, &a->mf[i], dg) < 0)
      return -1;
  return 0;
}

static const char *
strip_dot_slash (const char *n)
{
  while (n[0] == '.' && n[1] == '/')
    n += 2;
  return n;
}

static int
parse_manifest (struct ferry_ova *a, const char *mname, char *text)
{
  unsigned lineno = 0;
  char *save = NULL;

  for (char *line = strtok_r (text, "\n", &save); line;
       line = strtok_r (NULL, "\n", &save)) {
    char *open, *close, *hex, *end;
    struct ova_mf_entry e = { 0 };
    size_t want;

    lineno++;
    while (*line == ' ' || *line == '\t')
      line++;
    end = line + strlen (line);
    while (end > line && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
      *--end = '\0';
    if (!*line)
      continue;
    open = strchr (line, '(');
    close = strstr (line, ")=");
    if (!open || !close || close < open)
      goto bad;
    *open = '\0';
    *close = '\0';
    if (strcasecmp (line, "SHA256") == 0)
      e.sha256 = true;
    else if (strcasecmp (line, "SHA1") == 0)
      e.sha256 = false;
    else {
      a->failed = true;
      return ferry_error (FERRY_E_INPUT, "%s: %s line %u: digest %.20s is "
                          "not supported (SHA1 and SHA256 are)",
                          a->src->name, mname, lineno, line);
    }
    hex = close + 2;
    while (*hex == ' ' || *hex == '\t')
      hex++;
    want = e.sha256 ? 64 : 40;
    if (strlen (hex) != want || strspn (hex, "0123456789abcdefABCDEF") != want)
      goto bad;
    memcpy (e.hex, hex, want + 1);
    if (!(e.name = strdup (strip_dot_slash (open + 1))))
      return ferry_error (FERRY_E_SYSTEM, "out of memory");
    {
      struct ova_mf_entry *v = realloc (a->mf, (a->n_mf + 1) * sizeof *v);
      if (!v) {
        free (e.name);
        return ferry_error (FERRY_E_SYSTEM, "out of memory");
      }
      a->mf = v;
      a->mf[a->n_mf++] = e;
    }
    continue;
  bad:
    a->failed = true;
    return ferry_error (FERRY_E_INPUT, "%s: %s line %u: expected "
                        "\"SHA256(file)= hex\" or \"SHA1(file)= hex\"",
                        a->src->name, mname, lineno);
  }
  a->has_mf = true;
  /* Members already passed are checked now. */
  for (size_t i = 0; i < a->n_mf; i++) {
    const struct ova_digest *dg = find_digest (a, a->mf[i].name);
    if (dg && check_entry (a, &a->mf[i], dg) < 0)
      return -1;
  }
  ferry_debug (a->log, "%s: manifest %s lists %zu digests", a->src->name,
               mname, a->n_mf);
  return 0;
}

/* ---- the current member ---- */

/* Take up to n bytes of the current member from the archive, hashing
 * them.  Returns the count (short only at the member's end) or -1. */
static int64_t
member_pull (struct ferry_ova *a, void *buf, size_t n)
{
  size_t done = 0;

  while (done < n) {
    la_ssize_t r = archive_read_data (a->ar, (char *) buf + done, n - done);
    if (r < 0)
      return ova_archive_error (a, a->cur_name);
    if (r == 0)
      break;
    if (a->verify && !a->tapped
        && ferry_hashpipe_feed (a->hp, (char *) buf + done, (size_t) r) < 0)
      return ferry_error (FERRY_E_SYSTEM, "%s: %s", a->src->name,
                          ferry_error_msg ());
    done += (size_t) r;
    a->cur_pos += (uint64_t) r;
  }
  return (int64_t) done;
}

static int
member_end_locked (struct ferry_ova *a)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen;
  struct ova_digest dg = { 0 };

  if (!a->have_cur || a->cur_ended)
    return a->failed ? -1 : 0;
  a->cur_ended = true;
  a->gen++; /* member transports stop working */
  if (a->verify) {
    unsigned char *buf = malloc (65536);
    int64_t r;
    if (!buf)
      return ferry_error (FERRY_E_SYSTEM, "out of memory");
    while ((r = member_pull (a, buf, 65536)) > 0)
      ;
    free (buf);
    if (r < 0)
      return -1;
  }
  else if (archive_read_data_skip (a->ar) != ARCHIVE_OK)
    return ova_archive_error (a, a->cur_name);
  if (a->verify && a->cur_pos != a->cur_size) {
    a->failed = true;
    return ferry_error (FERRY_E_INPUT, "%s: member %s: %llu of %llu bytes "
                        "(truncated archive)", a->src->name, a->cur_name,
                        (unsigned long long) a->cur_pos,
                        (unsigned long long) a->cur_size);
  }
  if (!a->verify)
    return 0;
  if (ferry_hashpipe_wait (a->hp) < 0)
    return -1;
  if (a->want256) {
    if (EVP_DigestFinal_ex (a->sha256, md, &mdlen) != 1)
      return ferry_error (FERRY_E_SYSTEM, "SHA256 failed");
    hex_of (md, mdlen, dg.sha256);
  }
  if (a->want1) {
    if (EVP_DigestFinal_ex (a->sha1, md, &mdlen) != 1)
      return ferry_error (FERRY_E_SYSTEM, "SHA1 failed");
    hex_of (md, mdlen, dg.sha1);
  }
  if (!(dg.name = strdup (a->cur_name)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  if (a->n_digests == a->cap_digests) {
    size_t cap = a->cap_digests ? 2 * a->cap_digests : 8;
    struct ova_digest *v = realloc (a->digests, cap * sizeof *v);
    if (!v) {
      free (dg.name);
      return ferry_error (FERRY_E_SYSTEM, "out of memory");
    }
    a->digests = v;
    a->cap_digests = cap;
  }
  a->digests[a->n_digests++] = dg;
  return check_member (a, &a->digests[a->n_digests - 1]);
}

int
ferry_ova_member_end (struct ferry_ova *a)
{
  pthread_mutex_lock (&a->lock);
  int r = member_end_locked (a);
  pthread_mutex_unlock (&a->lock);
  return r;
}

static int64_t
member_pull_cb (void *ctx, char *buf, size_t count)
{
  return member_pull (ctx, buf, count);
}

/* Forward read of the current member, as importer/file.c's stdin. */
static int64_t
member_read_locked (struct ferry_transport *t, struct ferry_ova *a, char *buf,
                    size_t count, uint64_t offset)
{
  const struct ferry_seq_stream s = {
    .head = a->head, .head_len = a->head_len, .pos = &a->cur_pos,
    .pull = member_pull_cb, .ctx = a,
    .passed_hint = "this format cannot be read from an archive stream",
  };
  return ferry_seq_read (t, &s, buf, count, offset);
}

static int64_t
member_pread_partial (struct ferry_transport *t, void *buf, size_t count,
                      uint64_t offset)
{
  struct member_priv *p = t->priv;
  struct ferry_ova *a = p->a;
  int64_t r;

  pthread_mutex_lock (&a->lock);
  if (p->gen != a->gen || a->cur_ended)
    r = ferry_error (FERRY_E_SYSTEM, "%s: the archive walk has moved past "
                     "this member", t->name);
  else
    r = member_read_locked (t, a, buf, count, offset);
  pthread_mutex_unlock (&a->lock);
  return r;
}

static int
member_pread (struct ferry_transport *t, void *buf, size_t count,
              uint64_t offset)
{
  int64_t r = member_pread_partial (t, buf, count, offset);
  if (r < 0)
    return -1;
  if ((size_t) r < count)
    return ferry_error (FERRY_E_INPUT,
                        "%s: unexpected end of member at offset %llu",
                        t->name, (unsigned long long) (offset + (uint64_t) r));
  return 0;
}

static int64_t
member_size (struct ferry_transport *t)
{
  struct member_priv *p = t->priv;
  return (int64_t) p->a->cur_size;
}

static void
member_close (struct ferry_transport *t)
{
  free (t->priv);
}

static const struct ferry_transport_ops member_ops = {
  .name = "ova",
  .pread = member_pread,
  .pread_partial = member_pread_partial,
  .size = member_size,
  .close = member_close,
};

static struct ferry_transport *
member_open_stored (struct ferry_ova *a)
{
  struct member_priv *p;
  struct ferry_transport *t;
  char *name;

  if (!a->have_cur || a->cur_ended || a->cur_opened) {
    ferry_error (FERRY_E_SYSTEM, "%s: no member to open", a->src->name);
    return NULL;
  }
  if (!(p = malloc (sizeof *p))
      || asprintf (&name, "%s/%s", a->src->name, a->cur_name) < 0) {
    free (p);
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  p->a = a;
  p->gen = a->gen;
  t = ferry_transport_new (&member_ops, name, p);
  free (name);
  if (!t) {
    free (p);
    return NULL;
  }
  t->sequential = true;
  a->cur_opened = true;
  return t;
}

/* Members may be stored compressed (an OVF File with ovf:compression, or
 * simply a .gz/.xz/.zst file): they are decompressed as they pass, while
 * the digests are of the bytes as stored, which is what the manifest
 * lists. */
struct ferry_transport *
ferry_ova_member_open (struct ferry_ova *a)
{
  return ferry_decompress_wrap (member_open_stored (a), a->log);
}

char *
ferry_ova_member_read_all (struct ferry_ova *a, size_t max, size_t *len)
{
  struct ferry_transport *t;
  char *buf;
  int64_t r;

  if (a->cur_size > max) {
    ferry_error (FERRY_E_INPUT, "%s: member %s is too large (%llu bytes, "
                 "at most %zu)", a->src->name, a->cur_name,
                 (unsigned long long) a->cur_size, max);
    return NULL;
  }
  if (!(t = member_open_stored (a)))
    return NULL;
  if (!(buf = malloc ((size_t) a->cur_size + 1))) {
    ferry_transport_close (t);
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  r = member_pread_partial (t, buf, (size_t) a->cur_size, 0);
  ferry_transport_close (t);
  if (r < 0 || (uint64_t) r != a->cur_size) {
    if (r >= 0)
      ferry_error (FERRY_E_INPUT, "%s: member %s: %lld of %llu bytes "
                   "(truncated archive)", a->src->name, a->cur_name,
                   (long long) r, (unsigned long long) a->cur_size);
    free (buf);
    return NULL;
  }
  buf[r] = '\0';
  if (len)
    *len = (size_t) r;
  return buf;
}

/* ---- the walk ---- */

static bool
has_dotdot (const char *n)
{
  for (const char *p = n; *p;) {
    size_t l = strcspn (p, "/");
    if (l == 2 && p[0] == '.' && p[1] == '.')
      return true;
    p += l;
    while (*p == '/')
      p++;
  }
  return false;
}

static bool
ends_with_ci (const char *s, const char *suf)
{
  size_t a = strlen (s), b = strlen (suf);
  return a >= b && strcasecmp (s + a - b, suf) == 0;
}

static int
start_member (struct ferry_ova *a, const char *name, uint64_t size,
              int sparse)
{
  int64_t r;

  free (a->cur_name);
  if (!(a->cur_name = strdup (name)))
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  a->have_cur = true;
  a->cur_ended = false;
  a->cur_opened = false;
  a->cur_size = size;
  a->cur_index = a->n_members++;
  a->cur_pos = 0;
  a->head_len = 0;
  a->gen++;
  a->want256 = a->want1 = !a->has_mf;
  for (size_t i = 0; i < a->n_mf; i++)
    if (strcmp (a->mf[i].name, name) == 0) {
      a->want256 |= a->mf[i].sha256;
      a->want1 |= !a->mf[i].sha256;
    }
  if (a->verify) {
    /* A member left on an error may still be in the hashing thread's
     * hands. */
    if (a->tapped)
      ferry_readahead_tap_cancel (a->ra);
    ferry_hashpipe_wait (a->hp);
    a->tapped = false;
    if ((a->want256 && EVP_DigestInit_ex (a->sha256, EVP_sha256 (), NULL) != 1)
        || (a->want1 && EVP_DigestInit_ex (a->sha1, EVP_sha1 (), NULL) != 1))
      return ferry_error (FERRY_E_SYSTEM, "digest init failed");
    ferry_hashpipe_begin (a->hp, a->want256 ? a->sha256 : NULL,
                          a->want1 ? a->sha1 : NULL);
    /* A plain tar read ahead holds the member's bytes in one run of the
     * file, from the position libarchive has reached: the hashing thread
     * reads them from the read-ahead chunks itself, saving the walk a
     * copy and letting the digest lag by as much as the chunks hold. */
    uint64_t data_off = (uint64_t) archive_filter_bytes (a->ar, 0);
    if (a->ra && size > 0 && archive_filter_count (a->ar) == 1 && sparse == 0
        && ferry_readahead_tap_start (a->ra, data_off, size) == 0) {
      a->tapped = true;
      ferry_hashpipe_tap (a->hp, a->ra);
    }
  }
  r = member_pull (a, a->head, size < FERRY_SEQ_HEAD ? (size_t) size
                                                     : FERRY_SEQ_HEAD);
  if (r < 0)
    return -1;
  a->head_len = (size_t) r;
  return 0;
}

int
ferry_ova_next (struct ferry_ova *a, struct ferry_ova_member *m)
{
  struct archive_entry *e;
  int r;

  if (a->failed)
    return -1;
  if (a->eof)
    return 0;
  if (ferry_ova_member_end (a) < 0)
    return -1;
  for (;;) {
    const char *raw, *name;
    mode_t type;
    int64_t size;

    r = archive_read_next_header (a->ar, &e);
    if (r == ARCHIVE_EOF) {
      a->eof = true;
      a->have_cur = false;
      if (a->verify)
        for (size_t i = 0; i < a->n_mf; i++)
          if (!a->mf[i].checked) {
            a->failed = true;
            return ferry_error (FERRY_E_INPUT, "%s: the manifest lists %s, "
                                "which is not in the archive", a->src->name,
                                a->mf[i].name);
          }
      return 0;
    }
    if (r == ARCHIVE_WARN)
      ferry_warn (a->log, "%s: %s", a->src->name,
                  archive_error_string (a->ar));
    else if (r != ARCHIVE_OK)
      return ova_archive_error (a, "not a readable tar archive");
    raw = archive_entry_pathname (e);
    if (!raw) {
      a->failed = true;
      return ferry_error (FERRY_E_INPUT, "%s: member %llu has no name",
                          a->src->name, (unsigned long long) a->n_members);
    }
    name = strip_dot_slash (raw);
    type = archive_entry_filetype (e);
    size = archive_entry_size_is_set (e) ? archive_entry_size (e) : 0;
    a->failed = true; /* until the entry is accepted */
    if (name[0] == '/')
      return ferry_error (FERRY_E_INPUT, "%s: member %s: absolute member "
                          "names are refused", a->src->name, raw);
    if (has_dotdot (name))
      return ferry_error (FERRY_E_INPUT, "%s: member %s: names containing "
                          "\"..\" are refused", a->src->name, raw);
    if (archive_entry_hardlink (e))
      return ferry_error (FERRY_E_INPUT, "%s: member %s: hard links are "
                          "refused", a->src->name, raw);
    if (type == AE_IFLNK)
      return ferry_error (FERRY_E_INPUT, "%s: member %s: symbolic links are "
                          "refused", a->src->name, raw);
    if (type == AE_IFDIR) {
      if (size > 0)
        return ferry_error (FERRY_E_INPUT, "%s: member %s: a directory "
                            "holding data is refused", a->src->name, raw);
      a->failed = false;
      continue;
    }
    if (type != AE_IFREG)
      return ferry_error (FERRY_E_INPUT, "%s: member %s: devices, FIFOs and "
                          "sockets are refused", a->src->name, raw);
    if (!*name || size < 0)
      return ferry_error (FERRY_E_INPUT, "%s: member \"%s\": bad name or "
                          "size", a->src->name, raw);
    a->failed = false;
    if (start_member (a, name, (uint64_t) size,
                      archive_entry_sparse_count (e)) < 0)
      return -1;

    if (ends_with_ci (name, ".mf") && !a->has_mf && a->verify) {
      size_t len;
      char *text = ferry_ova_member_read_all (a, OVA_MANIFEST_MAX, &len);
      if (!text)
        return -1;
      /* The manifest does not list itself, but keep its digest. */
      int pr = ferry_ova_member_end (a) < 0 ? -1 : parse_manifest (a, name, text);
      free (text);
      if (pr < 0)
        return -1;
      continue;
    }
    if (ends_with_ci (name, ".mf"))
      a->has_mf = true;
    m->name = a->cur_name;
    m->size = a->cur_size;
    m->index = a->cur_index;
    return 1;
  }
}

bool
ferry_ova_probe (struct ferry_transport *t)
{
  unsigned char h[512];
  size_t done = 0;

  /* A tar header block: "ustar" at offset 257 (POSIX and GNU forms). */
  if (!t->ops->pread_partial) {
    int64_t size = ferry_transport_size (t);
    if (size < (int64_t) sizeof h || ferry_transport_pread (t, h, sizeof h, 0) < 0)
      return false;
    done = sizeof h;
  }
  while (done < sizeof h) {
    int64_t r = t->ops->pread_partial (t, h + done, sizeof h - done, done);
    if (r <= 0)
      break;
    done += (size_t) r;
  }
  ferry_error_clear ();
  return done == sizeof h && memcmp (h + 257, "ustar", 5) == 0;
}

bool
ferry_ova_has_manifest (const struct ferry_ova *a)
{
  return a->has_mf;
}

bool
ferry_ova_rewindable (const struct ferry_ova *a)
{
  return !a->src->sequential;
}

bool
ferry_ova_seen (const struct ferry_ova *a, const char *name)
{
  name = strip_dot_slash (name);
  if (a->have_cur && strcmp (a->cur_name, name) == 0)
    return true;
  if (find_digest (a, name))
    return true;
  return false;
}

struct ferry_ova *
ferry_ova_open (struct ferry_transport *src, bool verify,
                const struct ferry_log *log)
{
  struct ferry_ova *a = calloc (1, sizeof *a);

  if (!a) {
    ferry_transport_close (src);
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    return NULL;
  }
  a->src = src;
  a->verify = verify;
  a->log = log;
  pthread_mutex_init (&a->lock, NULL);
  if (!(a->sha256 = EVP_MD_CTX_new ()) || !(a->sha1 = EVP_MD_CTX_new ())
      || !(a->ar = archive_read_new ())) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto fail;
  }
  if (verify && !(a->hp = ferry_hashpipe_new ()))
    goto fail;
  /* A file or a URL with Range support is read ahead while the walk
   * works; streams have their own buffering and are read as they come. */
  if (!src->sequential) {
    if (!(a->ra = ferry_readahead_new (src, 0)))
      goto fail;
  }
  else if (!src->ops->pread_partial) {
    ferry_error (FERRY_E_SYSTEM, "%s: cannot be read as a stream", src->name);
    goto fail;
  }
  else if (!(a->rbuf = malloc (OVA_RBUF))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto fail;
  }
  archive_read_support_format_tar (a->ar);
  archive_read_support_filter_all (a->ar);
  archive_read_set_callback_data (a->ar, a);
  archive_read_set_read_callback (a->ar, ova_read_cb);
  archive_read_set_skip_callback (a->ar, ova_skip_cb);
  if (archive_read_open1 (a->ar) != ARCHIVE_OK) {
    ova_archive_error (a, "not a readable tar archive");
    goto fail;
  }
  return a;

fail:
  ferry_ova_close (a);
  return NULL;
}

void
ferry_ova_close (struct ferry_ova *a)
{
  if (!a)
    return;
  /* The hashing thread may be reading a tap: stop it before the
   * read-ahead goes. */
  ferry_readahead_tap_cancel (a->ra);
  ferry_hashpipe_free (a->hp);
  if (a->ar)
    archive_read_free (a->ar);
  ferry_readahead_free (a->ra);
  ferry_transport_close (a->src);
  EVP_MD_CTX_free (a->sha256);
  EVP_MD_CTX_free (a->sha1);
  pthread_mutex_destroy (&a->lock);
  for (size_t i = 0; i < a->n_digests; i++)
    free (a->digests[i].name);
  for (size_t i = 0; i < a->n_mf; i++)
    free (a->mf[i].name);
  free (a->digests);
  free (a->mf);
  free (a->cur_name);
  free (a->rbuf);
  free (a);
}
