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
    "Convert a whole VM: VM-SOURCE is a .vmx or .ovf file.  Every disk is\n"
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
  bool force = false, want_progress = false;
  enum progress_mode pmode = PROGRESS_NONE;
  char *text = NULL, *stem = NULL, *dir = NULL, *absdir = NULL, *path = NULL;
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
  eo.network_map = netmap;
  eo.n_network_map = n_netmap;
  eo.storage_map = stmap;
  eo.n_storage_map = n_stmap;
  if (cli_source_finish (&so, "convert", &code) < 0)
    goto out_nofail;

  const char *src = argv[optind];
  size_t sl = strlen (src);
  if (sl > 4 && strcasecmp (src + sl - 4, ".ova") == 0) {
    ferry_error (FERRY_E_USAGE, "%s: OVA archives are not supported yet: "
                 "extract the archive and convert its .ovf", src);
    goto fail;
  }
  if (!(text = ferry_read_file (src, 16 * 1024 * 1024, &len)))
    goto fail;
  {
    char *copy = strdup (src);
    if (!copy) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
    dir = strdup (dirname (copy));
    free (copy);
  }
  {
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
      p++;
    bool xml = *p == '<' || (sl > 4 && strcasecmp (src + sl - 4, ".ovf") == 0);
    if ((xml ? ferry_ovf_parse (text, len, src, dir, &vm)
             : ferry_vmx_parse (text, len, src, dir, &vm)) < 0)
      goto fail;
  }

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
  for (size_t k = 0, letter = 0; k < n_order; k++) {
    struct ferry_vm_disk *dk = &vm.disks[order[k]];
    struct ferry_disk *d;
    struct ferry_target *t;
    struct ferry_progress result = { 0 };
    struct progress prog;
    char checksum[FERRY_CHECKSUM_MAX];
    double t0 = progress_now ();

    if (dk->kind != FERRY_DISK_DISK || !dk->present)
      continue;
    if (!dk->path) {
      ferry_error (FERRY_E_INPUT, "%s: disk %s: no file to convert", src,
                   dk->file ? dk->file : "?");
      goto fail;
    }
    free (path);
    if (asprintf (&path, "%s/%s-sd%c.%s", absdir, stem,
                  (char) ('a' + (letter < 26 ? letter : 25)),
                  strcmp (to.format, "qcow2") == 0 ? "qcow2" : "raw") < 0) {
      path = NULL;
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
    letter++;
    if (!(d = cli_open_disk (dk->path, &so, &oo, false, "convert")))
      goto fail;
    ferry_info (&g->log, "%s -> %s (%s, %" PRIu64 " bytes)", dk->path, path,
                d->subformat ? d->subformat : d->ops->name, d->size);
    if (!(t = ferry_target_open (path, d->size, &to))) {
      ferry_disk_close (d);
      goto fail;
    }
    progress_init (&prog, pmode);
    co.progress = pmode != PROGRESS_NONE ? progress_update : NULL;
    co.progress_opaque = &prog;
    if (ferry_copy (d, t, &co, &result, checksum) < 0 || t->ops->finish (t) < 0) {
      progress_finish (&prog, &result, false);
      code = cli_fail ();
      t->ops->abort (t);
      ferry_target_close (t);
      ferry_disk_close (d);
      goto out_nofail;
    }
    progress_finish (&prog, &result, true);
    dk->capacity = d->size;
    dk->bytes_copied = result.data;
    dk->seconds = progress_now () - t0;
    free (dk->target_path);
    free (dk->target_format);
    free (dk->checksum);
    dk->target_path = strdup (path);
    dk->target_format = strdup (to.format);
    dk->checksum = checksum[0] ? strdup (checksum) : NULL;
    ferry_target_close (t);
    ferry_disk_close (d);
    if (!dk->target_path || !dk->target_format) {
      ferry_error (FERRY_E_SYSTEM, "out of memory");
      goto fail;
    }
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
             || ferry_emit_report_file (&vm, &findings, NULL, r) < 0)
      bad = 1;
    else if (g->log.level > FERRY_LOG_ERROR)
      printf ("%s\n%s\n%s\n", x, y, r);
    free (x);
    free (y);
    free (r);
    if (bad)
      goto fail;
  }
  goto out_nofail;

fail:
  code = cli_fail ();
out_nofail:
  cli_source_free (&so);
  ferry_findings_free (&findings);
  ferry_vm_free (&vm);
  free (netmap);
  free (stmap);
  free (text);
  free (stem);
  free (dir);
  free (absdir);
  free (path);
  free (order);
  return code;
}
