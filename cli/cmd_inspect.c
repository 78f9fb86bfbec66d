/* ferry inspect: read a VM description (.vmx or .ovf) and print the model
 * the rest of ferry works from, as a table or as JSON. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json.h>

#include "cli/cli.h"
#include "common/error.h"
#include "importer/vm.h"

/* A description larger than this is not a .vmx or .ovf. */
#define INSPECT_MAX_SIZE (64 * 1024 * 1024)

static void
usage (FILE *f)
{
  fprintf (f,
    "Usage: ferry inspect [--json] [--vm NAME] SOURCE\n"
    "\n"
    "Read a VM description and print what it says: name, UUID, firmware,\n"
    "CPUs and memory, controllers, disks, network adapters, serial ports, and\n"
    "warnings about what will not migrate cleanly.  SOURCE is a VMware .vmx\n"
    "file or an OVF descriptor (.ovf); other names are told apart by content\n"
    "(an XML document is OVF).  SOURCE may be an http(s) URL (an ESXi\n"
    "/folder/ datastore URL or any web server).  Disk paths are resolved\n"
    "relative to SOURCE.  For a .vmx, the .vmsd next to it (when there is\n"
    "one) gives the snapshot list.\n"
    "\n"
    "Options:\n"
    "      --json      print one JSON object instead of a table\n"
    "      --vm=NAME   an OVF VirtualSystemCollection (vApp): the\n"
    "                  VirtualSystem NAME (Name or ovf:id)\n"
    "  -h, --help      this text\n"
    "\n"
    "JSON fields (stable; a string the source does not give is null):\n"
    "  source, source_format (\"vmx\"|\"ovf\"), name, uuid (8-4-4-4-12, lower\n"
    "  case), guest_os, annotation, memory_mib, vcpus, cores_per_socket\n"
    "  (0: not set), firmware (\"bios\"|\"efi\"), secure_boot, nested_hv, vtpm,\n"
    "  has_snapshots, usb_devices,\n"
    "  snapshot_file (the .vmsd read, or null),\n"
    "  snapshots[]: uid, parent (uid or null), name, description, current,\n"
    "  controllers[]: bus (\"scsi\"|\"sata\"|\"ide\"|\"nvme\"|\"unknown\"), index,\n"
    "    model, present, shared_bus,\n"
    "  disks[]: kind (\"disk\"|\"cdrom\"|\"floppy\"), bus, controller, unit, file\n"
    "    (as written), path (resolved), device_type, mode, present,\n"
    "    independent, rdm, shared, capacity (bytes, 0: unknown), id (OVF disk),\n"
    "  nics[]: model, mac (aa:bb:cc:dd:ee:ff), mac_static, network, present,\n"
    "    start_connected,\n"
    "  serials[]: type, target,\n"
    "  warnings[]: strings.\n"
    "\n"
    "Exit codes: 0 success, 1 the source is unreadable or malformed (one\n"
    "line naming the file, the line or element and the reason), 2 usage,\n"
    "3 the output could not be written.\n"
    "%s", cli_source_help);
}

enum { OPT_JSON = 256, OPT_VM };

static const struct option long_opts[] = {
  { "json", no_argument, NULL, OPT_JSON },
  { "vm", required_argument, NULL, OPT_VM },
  CLI_SOURCE_LONG_OPTS,
  { "help", no_argument, NULL, 'h' },
  { NULL, 0, NULL, 0 },
};

static const char *
bus_name (enum ferry_bus b)
{
  switch (b) {
  case FERRY_BUS_SCSI: return "scsi";
  case FERRY_BUS_SATA: return "sata";
  case FERRY_BUS_IDE: return "ide";
  case FERRY_BUS_NVME: return "nvme";
  default: return "unknown";
  }
}

static const char *
kind_name (enum ferry_disk_kind k)
{
  switch (k) {
  case FERRY_DISK_CDROM: return "cdrom";
  case FERRY_DISK_FLOPPY: return "floppy";
  default: return "disk";
  }
}

static int
read_source (const char *path, char **textp, size_t *lenp)
{
  struct stat st;
  char *text, *nt;
  size_t len = 0, cap;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return ferry_error_errno (FERRY_E_INPUT, errno, "%s", path);
  if (fstat (fd, &st) < 0) {
    int e = errno;
    close (fd);
    return ferry_error_errno (FERRY_E_INPUT, e, "%s", path);
  }
  if (S_ISDIR (st.st_mode)) {
    close (fd);
    return ferry_error (FERRY_E_INPUT, "%s: is a directory, not a .vmx or "
                        ".ovf file", path);
  }
  if (st.st_size > INSPECT_MAX_SIZE) {
    close (fd);
    return ferry_error (FERRY_E_INPUT, "%s: %jd bytes is too large for a VM "
                        "description", path, (intmax_t) st.st_size);
  }
  /* Room for the whole file and one byte more, to see that it ended. */
  cap = st.st_size > 0 ? (size_t) st.st_size + 1 : 65536;
  text = malloc (cap);
  if (!text) {
    close (fd);
    return ferry_error (FERRY_E_SYSTEM, "out of memory");
  }
  for (;;) {
    if (len == cap) {
      cap = cap * 2 > INSPECT_MAX_SIZE + 1 ? INSPECT_MAX_SIZE + 1 : cap * 2;
      if (!(nt = realloc (text, cap))) {
        free (text);
        close (fd);
        return ferry_error (FERRY_E_SYSTEM, "out of memory");
      }
      text = nt;
    }
    ssize_t r = read (fd, text + len, cap - len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      free (text);
      close (fd);
      return ferry_error_errno (FERRY_E_INPUT, e, "%s: read", path);
    }
    if (r == 0)
      break;
    len += (size_t) r;
    if (len > INSPECT_MAX_SIZE) {
      free (text);
      close (fd);
      return ferry_error (FERRY_E_INPUT, "%s: too large for a VM "
                          "description", path);
    }
  }
  close (fd);
  *textp = text;
  *lenp = len;
  return 0;
}

static bool
has_ext (const char *path, const char *ext)
{
  size_t n = strlen (path), e = strlen (ext);
  return n > e && strcasecmp (path + n - e, ext) == 0;
}

static bool
looks_like_xml (const char *text, size_t len)
{
  size_t i = 0;
  if (len >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    i = 3;
  while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'
                     || text[i] == '\n'))
    i++;
  return i < len && text[i] == '<';
}

/* ---- JSON ------------------------------------------------------------ */

static json_object *
jstr (const char *s)
{
  return s ? json_object_new_string (s) : NULL;
}

static json_object *
vm_to_json (const struct ferry_vm *vm)
{
  json_object *o = json_object_new_object (), *a;

  json_object_object_add (o, "source", jstr (vm->source));
  json_object_object_add (o, "source_format", jstr (vm->source_format));
  json_object_object_add (o, "name", jstr (vm->name));
  json_object_object_add (o, "uuid", jstr (vm->uuid));
  json_object_object_add (o, "guest_os", jstr (vm->guest_os));
  json_object_object_add (o, "annotation", jstr (vm->annotation));
  json_object_object_add (o, "memory_mib",
                          json_object_new_uint64 (vm->memory_mib));
  json_object_object_add (o, "vcpus", json_object_new_int64 (vm->vcpus));
  json_object_object_add (o, "cores_per_socket",
                          json_object_new_int64 (vm->cores_per_socket));
  json_object_object_add (o, "firmware",
                          json_object_new_string (vm->firmware == FERRY_FW_EFI
                                                  ? "efi" : "bios"));
  json_object_object_add (o, "secure_boot",
                          json_object_new_boolean (vm->secure_boot));
  json_object_object_add (o, "nested_hv",
                          json_object_new_boolean (vm->nested_hv));
  json_object_object_add (o, "vtpm", json_object_new_boolean (vm->vtpm));
  json_object_object_add (o, "has_snapshots",
                          json_object_new_boolean (vm->has_snapshots));
  json_object_object_add (o, "usb_devices",
                          json_object_new_int64 (vm->usb_devices));
  json_object_object_add (o, "snapshot_file", jstr (vm->snapshot_file));
  a = json_object_new_array ();
  for (size_t i = 0; i < vm->n_snapshots; i++) {
    const struct ferry_vm_snapshot *sn = &vm->snapshots[i];
    json_object *so = json_object_new_object ();
    json_object_object_add (so, "uid", json_object_new_int64 (sn->uid));
    json_object_object_add (so, "parent", sn->parent
                            ? json_object_new_int64 (sn->parent) : NULL);
    json_object_object_add (so, "name", jstr (sn->name));
    json_object_object_add (so, "description", jstr (sn->description));
    json_object_object_add (so, "current",
                            json_object_new_boolean (sn->current));
    json_object_array_add (a, so);
  }
  json_object_object_add (o, "snapshots", a);

  a = json_object_new_array ();
  for (size_t i = 0; i < vm->n_controllers; i++) {
    const struct ferry_vm_controller *c = &vm->controllers[i];
    json_object *j = json_object_new_object ();
    json_object_object_add (j, "bus", json_object_new_string (bus_name (c->bus)));
    json_object_object_add (j, "index", json_object_new_int64 (c->index));
    json_object_object_add (j, "model", jstr (c->model));
    json_object_object_add (j, "present", json_object_new_boolean (c->present));
    json_object_object_add (j, "shared_bus",
                            json_object_new_boolean (c->shared_bus));
    json_object_array_add (a, j);
  }
  json_object_object_add (o, "controllers", a);

  a = json_object_new_array ();
  for (size_t i = 0; i < vm->n_disks; i++) {
    const struct ferry_vm_disk *d = &vm->disks[i];
    json_object *j = json_object_new_object ();
    json_object_object_add (j, "kind", json_object_new_string (kind_name (d->kind)));
    json_object_object_add (j, "bus", json_object_new_string (bus_name (d->bus)));
    json_object_object_add (j, "controller",
                            json_object_new_int64 (d->controller));
    json_object_object_add (j, "unit", json_object_new_int64 (d->unit));
    json_object_object_add (j, "file", jstr (d->file));
    {
      char *shown = d->path ? cli_source_name (d->path) : NULL;
      json_object_object_add (j, "path", jstr (shown));
      free (shown);
    }
    json_object_object_add (j, "device_type", jstr (d->device_type));
    json_object_object_add (j, "mode", jstr (d->mode));
    json_object_object_add (j, "present", json_object_new_boolean (d->present));
    json_object_object_add (j, "independent",
                            json_object_new_boolean (d->independent));
    json_object_object_add (j, "rdm", json_object_new_boolean (d->rdm));
    json_object_object_add (j, "shared", json_object_new_boolean (d->shared));
    json_object_object_add (j, "capacity", json_object_new_uint64 (d->capacity));
    json_object_object_add (j, "id", jstr (d->id));
    json_object_array_add (a, j);
  }
  json_object_object_add (o, "disks", a);

  a = json_object_new_array ();
  for (size_t i = 0; i < vm->n_nics; i++) {
    const struct ferry_vm_nic *n = &vm->nics[i];
    json_object *j = json_object_new_object ();
    json_object_object_add (j, "model", jstr (n->model));
    json_object_object_add (j, "mac", jstr (n->mac));
    json_object_object_add (j, "mac_static",
                            json_object_new_boolean (n->mac_static));
    json_object_object_add (j, "network", jstr (n->network));
    json_object_object_add (j, "present", json_object_new_boolean (n->present));
    json_object_object_add (j, "start_connected",
                            json_object_new_boolean (n->start_connected));
    json_object_array_add (a, j);
  }
  json_object_object_add (o, "nics", a);

  a = json_object_new_array ();
  for (size_t i = 0; i < vm->n_serials; i++) {
    json_object *j = json_object_new_object ();
    json_object_object_add (j, "type", jstr (vm->serials[i].type));
    json_object_object_add (j, "target", jstr (vm->serials[i].target));
    json_object_array_add (a, j);
  }
  json_object_object_add (o, "serials", a);

  a = json_object_new_array ();
  for (size_t i = 0; i < vm->n_warnings; i++)
    json_object_array_add (a, json_object_new_string (vm->warnings[i]));
  json_object_object_add (o, "warnings", a);
  return o;
}

/* ---- table --------------------------------------------------------- */

static const char *
yesno (bool b)
{
  return b ? "yes" : "no";
}

static const char *
or_dash (const char *s)
{
  return s && *s ? s : "-";
}

static void
format_size (char *buf, size_t n, uint64_t bytes)
{
  static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB",
                                   "EiB" };
  double v = (double) bytes;
  int i = 0;

  if (!bytes) {
    snprintf (buf, n, "-");
    return;
  }
  while (v >= 1024 && i < 6) {
    v /= 1024;
    i++;
  }
  snprintf (buf, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void
vm_print (FILE *f, const struct ferry_vm *vm)
{
  fprintf (f, "source:      %s (%s)\n", vm->source, vm->source_format);
  fprintf (f, "name:        %s\n", or_dash (vm->name));
  fprintf (f, "uuid:        %s\n", or_dash (vm->uuid));
  fprintf (f, "guest OS:    %s\n", or_dash (vm->guest_os));
  fprintf (f, "firmware:    %s%s\n", vm->firmware == FERRY_FW_EFI ? "efi" : "bios",
           vm->secure_boot ? " (secure boot)" : "");
  fprintf (f, "CPU:         %u vCPU%s", vm->vcpus, vm->vcpus == 1 ? "" : "s");
  if (vm->cores_per_socket)
    fprintf (f, ", %u core%s per socket", vm->cores_per_socket,
             vm->cores_per_socket == 1 ? "" : "s");
  fprintf (f, "%s\n", vm->nested_hv ? ", nested virtualisation" : "");
  if (vm->memory_mib)
    fprintf (f, "memory:      %" PRIu64 " MiB\n", vm->memory_mib);
  else
    fprintf (f, "memory:      -\n");
  fprintf (f, "vTPM:        %s\n", yesno (vm->vtpm));
  fprintf (f, "snapshots:   %s\n", yesno (vm->has_snapshots));
  for (size_t i = 0; i < vm->n_snapshots; i++) {
    const struct ferry_vm_snapshot *sn = &vm->snapshots[i];
    fprintf (f, "  - \"%s\" (uid %u", sn->name, sn->uid);
    if (sn->parent)
      fprintf (f, ", parent %u", sn->parent);
    fprintf (f, ")%s\n", sn->current ? " current: the disks are converted "
                                       "from this state on" : "");
  }
  fprintf (f, "USB:         %u controller%s\n", vm->usb_devices,
           vm->usb_devices == 1 ? "" : "s");
  if (vm->annotation && *vm->annotation) {
    fputs ("annotation:  ", f);
    for (const char *p = vm->annotation; *p; p++) {
      fputc (*p, f);
      if (*p == '\n' && p[1])
        fputs ("             ", f);
    }
    fputc ('\n', f);
  }

  fprintf (f, "\ncontrollers:\n");
  if (!vm->n_controllers)
    fprintf (f, "  (none)\n");
  else
    fprintf (f, "  %-8s %-12s %-8s %s\n", "NAME", "MODEL", "PRESENT",
             "SHARED BUS");
  for (size_t i = 0; i < vm->n_controllers; i++) {
    const struct ferry_vm_controller *c = &vm->controllers[i];
    char nm[32];
    snprintf (nm, sizeof nm, "%s%u", bus_name (c->bus), c->index);
    fprintf (f, "  %-8s %-12s %-8s %s\n", nm, or_dash (c->model),
             yesno (c->present), yesno (c->shared_bus));
  }

  fprintf (f, "\ndisks:\n");
  if (!vm->n_disks)
    fprintf (f, "  (none)\n");
  else
    fprintf (f, "  %-12s %-6s %-8s %-24s %-10s %s\n", "DEVICE", "KIND",
             "PRESENT", "MODE", "CAPACITY", "FILE");
  for (size_t i = 0; i < vm->n_disks; i++) {
    const struct ferry_vm_disk *d = &vm->disks[i];
    char dev[48];
    snprintf (dev, sizeof dev, "%s%u:%u", bus_name (d->bus), d->controller,
              d->unit);
    char size[32];
    format_size (size, sizeof size, d->capacity);
    fprintf (f, "  %-12s %-6s %-8s %-24s %-10s %s", dev, kind_name (d->kind),
             yesno (d->present), or_dash (d->mode), size, or_dash (d->file));
    if (d->rdm)
      fprintf (f, " [RDM %s]", or_dash (d->device_type));
    if (d->shared)
      fputs (" [shared]", f);
    if (d->path && d->file && strcmp (d->path, d->file)) {
      char *shown = cli_source_name (d->path);
      fprintf (f, "\n  %-12s -> %s", "", shown);
      free (shown);
    }
    fputc ('\n', f);
  }

  fprintf (f, "\nnetwork adapters:\n");
  if (!vm->n_nics)
    fprintf (f, "  (none)\n");
  else
    fprintf (f, "  %-3s %-9s %-17s %-9s %-8s %-9s %s\n", "#", "MODEL", "MAC",
             "MAC TYPE", "PRESENT", "CONNECT", "NETWORK");
  for (size_t i = 0; i < vm->n_nics; i++) {
    const struct ferry_vm_nic *n = &vm->nics[i];
    fprintf (f, "  %-3zu %-9s %-17s %-9s %-8s %-9s %s\n", i, or_dash (n->model),
             or_dash (n->mac), n->mac ? (n->mac_static ? "static" : "generated")
                                      : "-",
             yesno (n->present), yesno (n->start_connected), or_dash (n->network));
  }

  if (vm->n_serials) {
    fprintf (f, "\nserial ports:\n");
    for (size_t i = 0; i < vm->n_serials; i++)
      fprintf (f, "  %zu: %s %s\n", i, or_dash (vm->serials[i].type),
               or_dash (vm->serials[i].target));
  }

  fprintf (f, "\nwarnings:\n");
  if (!vm->n_warnings)
    fprintf (f, "  (none)\n");
  for (size_t i = 0; i < vm->n_warnings; i++)
    fprintf (f, "  - %s\n", vm->warnings[i]);
}

int
cmd_inspect (int argc, char **argv, struct cli_common *g)
{
  struct ferry_vm vm;
  struct cli_source so;
  bool json = false, ovf;
  char *text = NULL, *dir, *slash;
  const char *src, *vm_select = NULL;
  size_t len = 0;
  int c, r, code = 0;

  cli_source_init (&so, &g->log);
  optind = 1;
  while ((c = getopt_long (argc, argv, "h", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_JSON: json = true; break;
    case OPT_VM: vm_select = optarg; break;
    case 'h': usage (stdout); return 0;
    default:
      if (c >= CLI_SOURCE_OPT_BASE && c < CLI_SOURCE_OPT_END) {
        if (cli_source_option (&so, c, optarg, "inspect") < 0)
          return FERRY_E_USAGE;
        break;
      }
      usage (stderr);
      return FERRY_E_USAGE;
    }
  }
  if (argc - optind != 1) {
    fprintf (stderr, "ferry inspect: expected one SOURCE (a .vmx or .ovf "
             "file)\n");
    usage (stderr);
    return FERRY_E_USAGE;
  }
  src = argv[optind];
  if (has_ext (src, ".ova")) {
    fprintf (stderr, "ferry: %s: OVA archives are not read by inspect yet; "
             "extract the .ovf (tar xf) and inspect that\n", src);
    return FERRY_E_INPUT;
  }
  if (cli_source_finish (&so, "inspect", &code) < 0)
    return code;
  ferry_error_clear ();
  if (strncasecmp (src, "http://", 7) == 0
      || strncasecmp (src, "https://", 8) == 0) {
    /* Remote: fetched with the source options, disks resolved to URLs. */
    r = ferry_vm_load (src, &so.o, vm_select, &vm);
    cli_source_free (&so);
    if (r < 0)
      return cli_fail ();
  }
  else {
    if (read_source (src, &text, &len) < 0) {
      cli_source_free (&so);
      return cli_fail ();
    }

    if (has_ext (src, ".vmx"))
      ovf = false;
    else if (has_ext (src, ".ovf"))
      ovf = true;
    else
      ovf = looks_like_xml (text, len);

    dir = strdup (src);
    if (!dir) {
      free (text);
      cli_source_free (&so);
      fprintf (stderr, "ferry: out of memory\n");
      return FERRY_E_SYSTEM;
    }
    slash = strrchr (dir, '/');
    if (slash)
      slash[slash == dir ? 1 : 0] = 0;
    else
      strcpy (dir, ".");

    if (!ovf && vm_select) {
      fprintf (stderr, "ferry: %s: --vm chooses a system of an OVF "
               "VirtualSystemCollection; a .vmx describes one VM\n", src);
      free (text);
      free (dir);
      cli_source_free (&so);
      return FERRY_E_USAGE;
    }
    r = ovf ? ferry_ovf_parse_select (text, len, src, dir, vm_select, &vm)
            : ferry_vmx_parse (text, len, src, dir, &vm);
    free (text);
    free (dir);
    if (r == 0 && !ovf && ferry_vm_load_vmsd (src, &so.o, &vm) < 0) {
      ferry_vm_free (&vm);
      r = -1;
    }
    cli_source_free (&so);
    if (r < 0)
      return cli_fail ();
  }

  if (json) {
    json_object *o = vm_to_json (&vm);
    const char *s = json_object_to_json_string_ext (
      o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    fputs (s, stdout);
    fputc ('\n', stdout);
    json_object_put (o);
  }
  else
    vm_print (stdout, &vm);
  ferry_vm_free (&vm);
  if (fflush (stdout) != 0 || ferror (stdout)) {
    fprintf (stderr, "ferry: writing to standard output: %s\n",
             strerror (errno));
    return FERRY_E_OUTPUT;
  }
  return 0;
}
