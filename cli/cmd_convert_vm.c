/* ferry convert VM-SOURCE -o DIR: a whole VM in one command.
 *
 * Reads the VM description (.vmx or .ovf), runs the pre-flight checks,
 * converts every disk to DIR/NAME-sdX.EXT, then writes DIR/NAME.xml
 * (libvirt), DIR/NAME.kubevirt.yaml and DIR/NAME.report.json.  Nothing is
 * written when a critical pre-flight finding stops the run.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/fileutil.h"
#include "converters/copy.h"
#include "converters/emit.h"
#include "converters/format.h"
#include "converters/target.h"
#include "importer/archive.h"
#include "guestfix/cloudinit.h"
#include "guestfix/guestfix.h"
#include "importer/vm.h"

enum {
  OPT_OUTPUT = 'o',
  OPT_NETMAP = 1,
  OPT_STORAGEMAP,
  OPT_KVDISK,
  OPT_MACHINE,
  OPT_FORCE,
  OPT_OVERWRITE,
  OPT_THREADS,
  OPT_PROGRESS,
  OPT_VOLUME_MODE,
  OPT_NAMESPACE,
  OPT_COMPRESS,
  OPT_NO_VERIFY,
  OPT_NO_GUESTFIX,
  OPT_VM,
  OPT_CI_USER,
  OPT_CI_META,
  OPT_CI_NET,
  OPT_CI_ISO,
  OPT_VIRTIO_WIN,
  OPT_KEY_FILE,
};

static const struct option long_opts[] = {
  { "output-dir", required_argument, NULL, 'o' },
  { "format", required_argument, NULL, 'O' },
  { "network-map", required_argument, NULL, OPT_NETMAP },
  { "storage-map", required_argument, NULL, OPT_STORAGEMAP },
  { "kubevirt-disk", required_argument, NULL, OPT_KVDISK },
  { "volume-mode", required_argument, NULL, OPT_VOLUME_MODE },
  { "namespace", required_argument, NULL, OPT_NAMESPACE },
  { "machine", required_argument, NULL, OPT_MACHINE },
  { "compress", optional_argument, NULL, OPT_COMPRESS },
  { "force", no_argument, NULL, OPT_FORCE },
  { "no-verify", no_argument, NULL, OPT_NO_VERIFY },
  { "no-guestfix", no_argument, NULL, OPT_NO_GUESTFIX },
  { "vm", required_argument, NULL, OPT_VM },
  { "cloud-init-user-data", required_argument, NULL, OPT_CI_USER },
  { "cloud-init-meta-data", required_argument, NULL, OPT_CI_META },
  { "cloud-init-network-config", required_argument, NULL, OPT_CI_NET },
  { "cloud-init-iso", no_argument, NULL, OPT_CI_ISO },
  { "virtio-win", required_argument, NULL, OPT_VIRTIO_WIN },
  { "key-file", required_argument, NULL, OPT_KEY_FILE },
  { "overwrite", no_argument, NULL, OPT_OVERWRITE },
  { "threads", required_argument, NULL, OPT_THREADS },
  { "progress", optional_argument, NULL, OPT_PROGRESS },
  { "verbose", no_argument, NULL, 'v' },
  { "quiet", no_argument, NULL, 'q' },
  { "help", no_argument, NULL, 'h' },
  CLI_SOURCE_LONG_OPTS,
  { NULL, 0, NULL, 0 },
};

static void
usage (FILE *f)
{
  fprintf (f,
    "Usage: ferry convert [OPTIONS] VM-SOURCE -o DIR\n"
    "\n"
    "Convert a whole VM: VM-SOURCE is a .vmx, .ovf or .ova file, or an\n"
    "http(s) URL to one (disks are fetched next to it).  Every disk is\n"
    "converted to DIR/NAME-sdX.EXT (in boot order), and DIR/NAME.xml\n"
    "(libvirt), DIR/NAME.kubevirt.yaml and DIR/NAME.report.json are written.\n"
    "Pre-flight checks run first: warnings go to the report, critical\n"
    "findings stop the conversion unless --force.\n"
    "\n"
    "Options:\n"
    "  -o, --output-dir=DIR       where everything is written (created)\n"
    "  -O, --format=raw|qcow2     disk format (default raw)\n"
    "      --compress[=zlib|zstd] qcow2 compressed clusters\n"
    "      --network-map=SRC=TYPE[:NAME]\n"
    "                             map a source network (or *): libvirt\n"
    "                             network:NAME or bridge:NAME; KubeVirt pod or\n"
    "                             multus:NS/NAME (repeatable)\n"
    "      --storage-map=SRC=CLASS\n"
    "                             KubeVirt storage class for a datastore or\n"
    "                             disk file (or *) (repeatable)\n"
    "      --kubevirt-disk=datavolume|pvc\n"
    "                             one DataVolume (default) or PVC per disk\n"
    "      --volume-mode=block|filesystem\n"
    "                             KubeVirt volumeMode (default block)\n"
    "      --namespace=NS         KubeVirt metadata.namespace\n"
    "      --machine=auto|q35|pc  libvirt machine type (default auto)\n"
    "      --force                convert despite critical findings\n"
    "      --no-verify            .ova: do not check the .mf manifest digests\n"
    "      --no-guestfix          do not convert the guest (see 'ferry guestfix';\n"
    "                             by default the boot disk is fixed after the\n"
    "                             copy and the result goes into the report)\n"
    "      --cloud-init-user-data=FILE, --cloud-init-meta-data=FILE,\n"
    "      --cloud-init-network-config=FILE\n"
    "                             a cloud-init NoCloud seed (files of at most\n"
    "                             1 MiB), written into the guest by guest\n"
    "                             conversion; meta-data is generated from the\n"
    "                             VM name when not given\n"
    "      --cloud-init-iso       also write the seed as DIR/NAME-cidata.iso\n"
    "                             and attach it (libvirt: read-only CD-ROM;\n"
    "                             KubeVirt: a cloudInitNoCloud volume)\n"
    "      --virtio-win=PATH      Windows guests: the virtio-win ISO or\n"
    "                             directory (default: $VIRTIO_WIN)\n"
    "      --key-file=DEVICE:FILE guest conversion: open the LUKS-encrypted\n"
    "                             DEVICE of the boot disk (e.g. /dev/sda2, or\n"
    "                             all) with the passphrase in FILE\n"
    "                             (repeatable)\n"
    "      --vm=NAME              an OVF VirtualSystemCollection (vApp): convert\n"
    "                             the VirtualSystem NAME (Name or ovf:id)\n"
    "      --overwrite            replace existing disk files in DIR\n"
    "      --threads=N            copy threads (default: number of CPUs)\n"
    "      --progress[=MODE]      bar, plain, json or none\n"
    "  -v, --verbose              more messages\n"
    "  -q, --quiet                errors only\n"
    "  -h, --help                 this text\n"
    "%s",
    cli_source_help);
}

bool
cli_convert_is_vm (int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    size_t n = strlen (a);
    if (strcmp (a, "-o") == 0 || strncmp (a, "--output-dir", 12) == 0
        || (strncmp (a, "-o", 2) == 0 && a[2] && a[1] != '-'))
      return true;
    if (a[0] != '-' && ((n > 4 && strcasecmp (a + n - 4, ".vmx") == 0)
                        || (n > 4 && strcasecmp (a + n - 4, ".ovf") == 0)
                        || (n > 4 && strcasecmp (a + n - 4, ".ova") == 0)))
      return true;
  }
  return false;
}

/* A file name from the VM name: no '/', no leading '.', no spaces. */
static char *
file_stem (const struct ferry_vm *vm)
{
  char *n = ferry_emit_libvirt_name (vm);

  if (!n)
    return NULL;
  for (char *p = n; *p; p++)
    if (*p == '/' || *p == ' ' || *p == '\\' || (unsigned char) *p < 0x20)
      *p = '_';
  if (n[0] == '.')
    n[0] = '_';
  return n;
}

static int
add_map (const char ***v, size_t *n, const char *s)
{
  const char **p = realloc (*v, (*n + 1) * sizeof **v);

  if (!p)
    return -1;
  p[(*n)++] = s;
  *v = p;
  return 0;
}

/* What every disk conversion shares. */
struct vm_conv {
  struct cli_common *g;
  struct ferry_target_opts *to;
  struct ferry_copy_opts *co;
  enum progress_mode pmode;
  char **written; /* disk outputs made so far (removed if an OVA fails) */
  size_t n_written;
};

/* Copy the open disk d (closed here) to path and record it in dk.  With
 * an OVA walk, the member is read to its end and checked against the
 * manifest before the target is committed. */
static int
copy_disk (struct vm_conv *c, struct ferry_vm_disk *dk, struct ferry_disk *d,
           const char *path, struct ferry_ova *ova)
{
  struct ferry_target *t;
  struct ferry_progress result = { 0 };
  struct progress prog;
  char checksum[FERRY_CHECKSUM_MAX];
  double t0 = progress_now ();

  {
    char *shown = cli_source_name (dk->path ? dk->path : dk->file);
    ferry_info (&c->g->log, "%s -> %s (%s, %" PRIu64 " bytes)", shown, path,
                d->subformat ? d->subformat : d->ops->name, d->size);
    free (shown);
  }
  if (!(t = ferry_target_open (path, d->size, c->to))) {
    ferry_disk_close (d);
    return -1;
  }
  progress_init (&prog, c->pmode);
  c->co->progress = c->pmode != PROGRESS_NONE ? progress_update : NULL;
  c->co->progress_opaque = &prog;
  if (ferry_copy (d, t, c->co, &result, checksum) < 0
      || (ova && ferry_ova_member_end (ova) < 0) || t->ops->finish (t) < 0) {
    progress_finish (&prog, &result, false);
    t->ops->abort (t);
    ferry_target_close (t);
    ferry_disk_close (d);
    return -1;
  }
  progress_finish (&prog, &result, true);
  {
    char **w = realloc (c->written, (c->n_written + 1) * sizeof *w);
    if (w) {
      c->written = w;
      if ((w[c->n_written] = strdup (path)))
        c->n_written++;
    }
  }
  dk->capacity = d->size;
  dk->bytes_copied = result.data;
  dk->seconds = progress_now () - t0;
  free (dk->target_path);
  free (dk->target_format);
  free (dk->checksum);
  dk->target_path = strdup (path);
  dk->target_format = strdup (c->to->format);
  dk->checksum = checksum[0] ? strdup (checksum) : NULL;
  ferry_target_close (t);
  ferry_disk_close (d);
  if (!dk->target_path || !dk->target_format)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  return 0;
}

static bool
is_ova_name (const char *s)
{
  size_t n = strlen (s);
  return n > 4 && strcasecmp (s + n - 4, ".ova") == 0;
}

static bool
is_ovf_member (const char *s)
{
  size_t n = strlen (s);
  return n > 4 && strcasecmp (s + n - 4, ".ovf") == 0;
}

static const char *
no_dot_slash (const char *n)
{
  while (n[0] == '.' && n[1] == '/')
    n += 2;
  return n;
}

/* Walk the OVA up to its .ovf and parse it.  *two_pass is set when a disk
 * the OVF names was passed before the OVF. */
static int
ova_read_ovf (struct ferry_ova *ova, const char *src, struct ferry_vm *vm,
              char **text, size_t *len, bool *two_pass, const char *vm_select)
{
  struct ferry_ova_member m;
  int r;

  while ((r = ferry_ova_next (ova, &m)) > 0 && !is_ovf_member (m.name))
    ;
  if (r < 0)
    return -1;
  if (r == 0)
    return ferry_error (FERRY_E_INPUT, "%s: no .ovf descriptor in the "
                        "archive", src);
  if (!(*text = ferry_ova_member_read_all (ova, 16 * 1024 * 1024, len)))
    return -1;
  if (ferry_ovf_parse_select (*text, *len, m.name, NULL, vm_select, vm) < 0)
    return ferry_error_prefix ("%s", src);
  *two_pass = false;
  for (size_t i = 0; i < vm->n_disks; i++)
    if (vm->disks[i].file
        && ferry_ova_seen (ova, no_dot_slash (vm->disks[i].file)))
      *two_pass = true;
  return 0;
}

/* Convert the disks the OVF names as their members stream past.  paths[i]
 * is the output of vm->disks[i] (NULL: not converted). */
static int
ova_convert_disks (struct vm_conv *c, struct ferry_ova **ovap,
                   const char *src, struct cli_source *so, bool verify,
                   struct ferry_vm *vm, char **paths, bool two_pass,
                   const struct ferry_open_opts *oo)
{
  struct ferry_ova_member m;
  bool *done = calloc (vm->n_disks + 1, sizeof *done);
  int r;

  if (!done)
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  if (two_pass) {
    struct ferry_transport *tr;
    if (!ferry_ova_rewindable (*ovap)) {
      free (done);
      return ferry_error (FERRY_E_INPUT, "%s: the .ovf comes after the disks "
                          "in this archive, and a stream cannot be read "
                          "twice: convert a local copy", src);
    }
    ferry_ova_close (*ovap);
    *ovap = NULL;
    if (!(tr = ferry_transport_open_opts (src, &so->o))
        || !(*ovap = ferry_ova_open (tr, verify, &c->g->log))) {
      free (done);
      return -1;
    }
  }
  while ((r = ferry_ova_next (*ovap, &m)) > 0) {
    for (size_t i = 0; i < vm->n_disks; i++) {
      struct ferry_vm_disk *dk = &vm->disks[i];
      struct ferry_transport *tr;
      struct ferry_disk *d;

      if (!paths[i] || done[i] || !dk->file
          || strcmp (no_dot_slash (dk->file), m.name) != 0)
        continue;
      done[i] = true;
      free (dk->path);
      if (asprintf (&dk->path, "%s/%s", src, m.name) < 0)
        dk->path = NULL;
      if (!(tr = ferry_ova_member_open (*ovap))
          || !(d = ferry_disk_open (tr, oo))
          || copy_disk (c, dk, d, paths[i], *ovap) < 0) {
        free (done);
        return -1;
      }
      break;
    }
  }
  if (r < 0) {
    free (done);
    return -1;
  }
  for (size_t i = 0; i < vm->n_disks; i++)
    if (paths[i] && !done[i]) {
      free (done);
      return ferry_error (FERRY_E_INPUT, "%s: disk file %s named by the OVF "
                          "is not in the archive", src, vm->disks[i].file);
    }
  free (done);
  if (!verify)
    ferry_info (&c->g->log, "%s: manifest not checked (--no-verify)", src);
  else if (!ferry_ova_has_manifest (*ovap))
    ferry_warn (&c->g->log, "%s: the archive has no .mf manifest; its "
                "members were not verified", src);
  if (c->g->log.level > FERRY_LOG_ERROR)
    printf ("%s: read in %s\n", src,
            two_pass ? "two passes (the .ovf comes after the disks)"
                     : "one pass");
  return 0;
}

int
cmd_convert_vm (int argc, char **argv, struct cli_common *g)
{
  struct ferry_emit_opts eo;
  struct ferry_target_opts to = { .format = "raw", .log = &g->log };
  struct ferry_copy_opts co = { .sparse_size = FERRY_COPY_DEFAULT_SPARSE,
                                .log = &g->log };
  struct ferry_open_opts oo = { .log = &g->log };
  struct ferry_vm vm = { 0 };
  struct ferry_findings findings = { 0 };
  struct cli_source so;
  const char *outdir = NULL, *progress_arg = NULL;
  const char **netmap = NULL, **stmap = NULL;
  size_t n_netmap = 0, n_stmap = 0;
  bool force = false, want_progress = false, verify = true, two_pass = false;
  bool guestfix = true, guest_failed = false;
  const char *vm_select = NULL; /* --vm: one system of an OVF vApp */
  const char *ci_user = NULL, *ci_meta = NULL, *ci_net = NULL;
  bool ci_iso = false;
  const char *virtio_win = NULL; /* --virtio-win, for Windows guests */
  struct guestfix_key keys[GUESTFIX_MAX_KEYS]; /* --key-file */
  size_t n_keys = 0;
  struct ferry_cloudinit ci = { 0 };
  char *ci_iso_path = NULL;
  char guest_err[1024] = "", *guest_json = NULL;
  bool is_ova = false;
  struct ferry_ova *ova = NULL;
  struct vm_conv cv = { .g = g, .to = &to, .co = &co };
  char **paths = NULL;
  enum progress_mode pmode = PROGRESS_NONE;
  char *text = NULL, *stem = NULL, *dir = NULL, *absdir = NULL;
  size_t len = 0, *order = NULL, n_order;
  uint64_t v;
  int c, code = 0;

  ferry_emit_opts_init (&eo);
  cli_source_init (&so, &g->log);
  optind = 1;
  while ((c = getopt_long (argc, argv, "o:O:vqh", long_opts, NULL)) != -1) {
    switch (c) {
    case 'o': outdir = optarg; break;
    case 'O': to.format = optarg; break;
    case OPT_COMPRESS: to.compress = optarg ? optarg : "zstd"; break;
    case OPT_NETMAP:
    case OPT_STORAGEMAP:
      if (!strchr (optarg, '=')) {
        fprintf (stderr, "ferry: --%s=%s: expected SRC=VALUE\n",
                 c == OPT_NETMAP ? "network-map" : "storage-map", optarg);
        return FERRY_E_USAGE;
      }
      if (add_map (c == OPT_NETMAP ? &netmap : &stmap,
                   c == OPT_NETMAP ? &n_netmap : &n_stmap, optarg) < 0) {
        fprintf (stderr, "ferry: out of memory\n");
        return FERRY_E_SYSTEM;
      }
      break;
    case OPT_KVDISK:
      if (strcasecmp (optarg, "datavolume") == 0)
        eo.kv_disk = FERRY_KV_DATAVOLUME;
      else if (strcasecmp (optarg, "pvc") == 0)
        eo.kv_disk = FERRY_KV_PVC;
      else {
        fprintf (stderr, "ferry: --kubevirt-disk=%s: expected datavolume or "
                 "pvc\n", optarg);
        return FERRY_E_USAGE;
      }
      break;
    case OPT_VOLUME_MODE:
      if (strcasecmp (optarg, "block") == 0)
        eo.kv_volume_mode = FERRY_KV_BLOCK;
      else if (strcasecmp (optarg, "filesystem") == 0)
        eo.kv_volume_mode = FERRY_KV_FILESYSTEM;
      else {
        fprintf (stderr, "ferry: --volume-mode=%s: expected block or "
                 "filesystem\n", optarg);
        return FERRY_E_USAGE;
      }
      break;
    case OPT_NAMESPACE: eo.kv_namespace = optarg; break;
    case OPT_MACHINE:
      if (strcasecmp (optarg, "auto") == 0)
        eo.machine = FERRY_MACHINE_AUTO;
      else if (strcasecmp (optarg, "q35") == 0)
        eo.machine = FERRY_MACHINE_Q35;
      else if (strcasecmp (optarg, "pc") == 0 || strcasecmp (optarg, "i440fx") == 0)
        eo.machine = FERRY_MACHINE_PC;
      else {
        fprintf (stderr, "ferry: --machine=%s: expected auto, q35 or pc\n",
                 optarg);
        return FERRY_E_USAGE;
      }
      break;
    case OPT_FORCE: force = true; break;
    case OPT_NO_VERIFY: verify = false; break;
    case OPT_NO_GUESTFIX: guestfix = false; break;
    case OPT_VM: vm_select = optarg; break;
    case OPT_CI_USER: ci_user = optarg; break;
    case OPT_CI_META: ci_meta = optarg; break;
    case OPT_CI_NET: ci_net = optarg; break;
    case OPT_CI_ISO: ci_iso = true; break;
    case OPT_VIRTIO_WIN: virtio_win = optarg; break;
    case OPT_KEY_FILE:
      if (n_keys == GUESTFIX_MAX_KEYS) {
        fprintf (stderr, "ferry: at most %d --key-file options\n",
                 GUESTFIX_MAX_KEYS);
        return FERRY_E_USAGE;
      }
      if (guestfix_key_parse (optarg, &keys[n_keys++]) < 0)
        return cli_fail ();
      break;
    case OPT_OVERWRITE: to.overwrite = true; break;
    case OPT_THREADS:
      if (cli_parse_size (optarg, &v) < 0 || v == 0 || v > 64) {
        fprintf (stderr, "ferry: --threads=%s: expected 1 to 64\n", optarg);
        return FERRY_E_USAGE;
      }
      co.threads = (unsigned) v;
      break;
    case OPT_PROGRESS: want_progress = true; progress_arg = optarg; break;
    case 'v': g->log.level++; break;
    case 'q': g->log.level = FERRY_LOG_ERROR; break;
    case 'h': usage (stdout); return 0;
    default:
      if (c >= CLI_SOURCE_OPT_BASE && c < CLI_SOURCE_OPT_END) {
        if (cli_source_option (&so, c, optarg, "convert") < 0)
          return FERRY_E_USAGE;
        break;
      }
      usage (stderr);
      return FERRY_E_USAGE;
    }
  }
  if (argc - optind != 1 || !outdir) {
    fprintf (stderr, "ferry convert: a VM conversion takes one VM-SOURCE and "
             "-o DIR\n");
    usage (stderr);
    return FERRY_E_USAGE;
  }
  if (strcmp (to.format, "raw") != 0 && strcmp (to.format, "qcow2") != 0) {
    fprintf (stderr, "ferry: --format=%s: expected raw or qcow2\n", to.format);
    return FERRY_E_USAGE;
  }
  if (want_progress && progress_mode_parse (progress_arg, &pmode) < 0) {
    fprintf (stderr, "ferry: --progress=%s: expected bar, plain, json or "
             "none\n", progress_arg);
    return FERRY_E_USAGE;
  }
  if (!want_progress && g->log.level > FERRY_LOG_ERROR && isatty (STDERR_FILENO))
    pmode = PROGRESS_BAR;
  if (ci_iso && !ci_user && !ci_meta && !ci_net) {
    fprintf (stderr, "ferry: --cloud-init-iso needs a seed: "
             "--cloud-init-user-data, -meta-data or -network-config\n");
    return FERRY_E_USAGE;
  }
  if (!guestfix && !ci_iso && (ci_user || ci_meta || ci_net)) {
    fprintf (stderr, "ferry: the cloud-init seed is written by guest "
             "conversion, which --no-guestfix skips; add --cloud-init-iso "
             "to attach it as a volume instead\n");
    return FERRY_E_USAGE;
  }
  eo.network_map = netmap;
  eo.n_network_map = n_netmap;
  eo.storage_map = stmap;
  eo.n_storage_map = n_stmap;
  if (cli_source_finish (&so, "convert", &code) < 0)
    goto out_nofail;
  /* The seed is read and checked before anything is copied. */
  if (ferry_cloudinit_load (&ci, ci_user, ci_meta, ci_net, &g->log) < 0)
    goto fail;

  const char *src = argv[optind];
  /* Standard input has no name to go by, and a compressed OVA's name
   * (app.ova.gz) ends otherwise: an OVA is recognised by its tar header. */
  struct ferry_transport *stdin_tr = NULL;
  size_t zl = strlen (src);
  bool zname = false;
  static const char *const zsuf[] = { ".gz", ".xz", ".zst", ".bz2" };
  for (size_t k = 0; k < sizeof zsuf / sizeof zsuf[0]; k++)
    if (zl > strlen (zsuf[k])
        && strcasecmp (src + zl - strlen (zsuf[k]), zsuf[k]) == 0)
      zname = true;
  if (strcmp (src, "-") == 0 || zname) {
    if (!(stdin_tr = ferry_transport_open_opts (src, &so.o)))
      goto fail;
    if (!ferry_ova_probe (stdin_tr)) {
      ferry_transport_close (stdin_tr);
      ferry_error (FERRY_E_INPUT, "%s: not an OVA (tar) archive; a .vmx or "
                   ".ovf is read from its file or URL",
                   zname ? src : "standard input");
      goto fail;
    }
  }
  if ((is_ova = stdin_tr || is_ova_name (src))) {
    struct ferry_transport *tr
        = stdin_tr ? stdin_tr : ferry_transport_open_opts (src, &so.o);
    if (!tr || !(ova = ferry_ova_open (tr, verify, &g->log))
        || ova_read_ovf (ova, src, &vm, &text, &len, &two_pass, vm_select) < 0)
      goto fail;
  }
  /* A .vmx or .ovf, local or a URL: disks resolved next to it. */
  else if (ferry_vm_load (src, &so.o, vm_select, &vm) < 0)
    goto fail;

  /* Pre-flight: before anything is written. */
  {
    const struct ferry_vm *one = &vm;
    if (ferry_preflight (&one, 1, &eo, &findings) < 0)
      goto fail;
    for (size_t i = 0; i < findings.n; i++)
      ferry_log (&g->log, findings.items[i].severity == FERRY_SEV_CRITICAL
                              ? FERRY_LOG_ERROR : FERRY_LOG_WARN,
                 "%s: %s: %s (%s)", src,
                 findings.items[i].severity == FERRY_SEV_CRITICAL
                     ? "critical" : "warning",
                 findings.items[i].message, findings.items[i].code);
    if (ferry_findings_critical (&findings) && !force) {
      ferry_error (FERRY_E_INPUT, "%s: pre-flight found critical problems "
                   "(listed above); nothing was converted (--force converts "
                   "anyway)", src);
      goto fail;
    }
  }

  /* A Windows guest cannot be converted without virtio-win: say so before
   * the copy, not after it. */
  if (guestfix && ferry_guest_is_windows (vm.guest_os)) {
    const char *vw = virtio_win && *virtio_win ? virtio_win
                                               : getenv ("VIRTIO_WIN");
    struct stat vst;
    if (!vw || !*vw) {
      ferry_error (FERRY_E_USAGE, "%s: guestOS \"%s\" is Windows, and its "
                   "conversion needs the virtio drivers: give the virtio-win "
                   "ISO or directory with --virtio-win PATH or VIRTIO_WIN="
                   "PATH (or copy the disks only with --no-guestfix); "
                   "nothing was converted", src, vm.guest_os);
      goto fail;
    }
    if (stat (vw, &vst) < 0) {
      ferry_error_errno (FERRY_E_INPUT, errno, "virtio-win %s", vw);
      goto fail;
    }
  }

  if (mkdir (outdir, 0755) < 0 && errno != EEXIST) {
    ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", outdir);
    goto fail;
  }
  if (!(absdir = realpath (outdir, NULL))) {
    ferry_error_errno (FERRY_E_OUTPUT, errno, "%s", outdir);
    goto fail;
  }
  if (!(stem = file_stem (&vm))
      || !(order = calloc (vm.n_disks + 1, sizeof *order))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto fail;
  }

  /* The disks, in boot order: sda is the boot disk. */
  n_order = ferry_emit_disk_order (&vm, order);
  if (!(paths = calloc (vm.n_disks + 1, sizeof *paths))) {
    ferry_error (FERRY_E_SYSTEM, "out of memory");
    goto fail;
  }
  for (size_t k = 0, letter = 0; k < n_order; k++) {
    struct ferry_vm_disk *dk = &vm.disks[order[k]];

    if (dk->kind != FERRY_DISK_DISK || !dk->present)
      continue;
    if (!(ova ? dk->file : dk->path)) {
      ferry_error (FERRY_E_INPUT, "%s: disk %s: no file to convert", src,
                   dk->file ? dk->file : "?");
      goto fail;
    }
    if (asprintf (&paths[order[k]], "%s/%s-sd%c.%s", absdir, stem,
                  (char) ('a' + (letter < 26 ? letter : 25)),
                  strcmp (to.format, "qcow2") == 0 ? "qcow2" : "raw") < 0) {
      paths[order[k]] = NULL;
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
    letter++;
  }
  cv.pmode = pmode;
  if (ova) {
    if (ova_convert_disks (&cv, &ova, src, &so, verify, &vm, paths, two_pass,
                           &oo) < 0)
      goto fail;
  }
  else
    for (size_t k = 0; k < n_order; k++) {
      struct ferry_vm_disk *dk = &vm.disks[order[k]];
      struct ferry_disk *d;

      if (!paths[order[k]])
        continue;
      if (!(d = cli_open_disk (dk->path, &so, &oo, false, "convert"))
          || copy_disk (&cv, dk, d, paths[order[k]], NULL) < 0)
        goto fail;
    }

  /* One meta-data for the guest's seed and the ISO: named after the VM. */
  if (ferry_cloudinit_given (&ci)
      && ferry_cloudinit_meta (&ci, vm.name && *vm.name ? vm.name : stem) < 0)
    goto fail;

  /* Guest conversion on the boot disk, in place, all or nothing.  A
   * failure leaves the disks as copied; the report says what failed. */
  if (guestfix && n_order > 0 && vm.disks[order[0]].target_path) {
    struct guestfix_opts go = { .disk = vm.disks[order[0]].target_path,
                                .format = to.format, .log = &g->log,
                                .cloudinit = &ci, .virtio_win = virtio_win,
                                .keys = keys, .n_keys = n_keys };
    struct guestfix_result gr;
    json_object *j;

    guestfix_result_init (&gr);
    if (guestfix_run (&go, &gr) < 0) {
      guest_failed = true;
      snprintf (guest_err, sizeof guest_err, "%s", ferry_error_msg ());
      ferry_vm_warn (&vm, "guest conversion failed: %s", guest_err);
    }
    if ((j = guestfix_result_json (&gr))) {
      guest_json = strdup (json_object_to_json_string_ext (j, JSON_C_TO_STRING_PLAIN));
      json_object_put (j);
    }
    guestfix_result_free (&gr);
  }

  if (ci_iso) {
    if (asprintf (&ci_iso_path, "%s/%s-cidata.iso", absdir, stem) < 0) {
      ci_iso_path = NULL;
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
    if (ferry_cloudinit_write_iso (&ci, ci_iso_path) < 0)
      goto fail;
    eo.cloudinit_iso = ci_iso_path;
    eo.cloudinit_user_data = ci.user_data_given ? ci.user_data : NULL;
    eo.cloudinit_user_data_len = ci.user_data_len;
    eo.cloudinit_network_data = ci.network_config;
    eo.cloudinit_network_data_len = ci.network_config_len;
  }

  {
    char *x = NULL, *y = NULL, *r = NULL;
    int bad = asprintf (&x, "%s/%s.xml", absdir, stem) < 0
              || asprintf (&y, "%s/%s.kubevirt.yaml", absdir, stem) < 0
              || asprintf (&r, "%s/%s.report.json", absdir, stem) < 0;
    if (bad)
      ferry_error (FERRY_E_SYSTEM, "out of memory");
    else if (ferry_emit_libvirt_file (&vm, &eo, x) < 0
             || ferry_emit_kubevirt_file (&vm, &eo, y) < 0
             || ferry_emit_report_file (&vm, &findings, guest_json, r) < 0)
      bad = 1;
    else if (g->log.level > FERRY_LOG_ERROR) {
      printf ("%s\n%s\n%s\n", x, y, r);
      if (ci_iso_path)
        printf ("%s\n", ci_iso_path);
    }
    if (!bad && guest_failed)
      ferry_error (FERRY_E_INPUT, "%s; the disks are as copied and %s says "
                   "what failed (--no-guestfix skips this stage)", guest_err,
                   r);
    free (x);
    free (y);
    free (r);
    if (bad)
      goto fail;
    if (guest_failed) {
      code = cli_fail ();
      goto out_nofail;
    }
  }
  goto out_nofail;

fail:
  code = cli_fail ();
  /* An OVA or URL conversion that fails leaves none of its disks behind
   * (it cannot be resumed from them). */
  for (size_t i = 0; (is_ova || strstr (argv[optind], "://")) && i < cv.n_written;
       i++)
    if (unlink (cv.written[i]) == 0)
      ferry_info (&g->log, "removed %s", cv.written[i]);
out_nofail:
  for (size_t i = 0; i < cv.n_written; i++)
    free (cv.written[i]);
  free (cv.written);
  for (size_t i = 0; paths && i < vm.n_disks; i++)
    free (paths[i]);
  free (paths);
  ferry_ova_close (ova);
  cli_source_free (&so);
  ferry_findings_free (&findings);
  ferry_vm_free (&vm);
  free (netmap);
  free (stmap);
  free (text);
  free (stem);
  free (dir);
  free (absdir);
  free (order);
  free (guest_json);
  free (ci_iso_path);
  ferry_cloudinit_free (&ci);
  return code;
}
