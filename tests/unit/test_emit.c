/* Unit tests for the emitters (converters/emit_*.c) and pre-flight checks
 * (converters/preflight.c).
 *
 * The VMs are built by hand, so these tests do not depend on the .vmx/.ovf
 * parsers.  The output is read back with real parsers (libxml2 + XPath for
 * the domain XML, libyaml's document loader for the KubeVirt YAML, json-c
 * for the report) and checked field by field.
 *
 * Every fixture's files are also written to $FERRY_EMIT_OUT (default: a
 * temporary directory, removed afterwards) through the *_file functions;
 * tests/emit_validate.sh sets it and runs libvirt's schema validator, the
 * libvirt test driver and a Python YAML field-path check on them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <yaml.h>

#include "common/error.h"
#include "converters/emit.h"
#include "version.h"

#define GiB (1024ull * 1024 * 1024)
#define S(x) ((char *) (x))

/* ---- fixtures: VMs with static storage, nothing to free --------------- */

struct fx {
  struct ferry_vm vm;
  struct ferry_vm_controller ctl[8];
  struct ferry_vm_disk disks[20];
  struct ferry_vm_nic nics[4];
  struct ferry_vm_serial serials[2];
  char *warnings[2];
};

static struct ferry_vm_disk *
add_disk (struct fx *f, enum ferry_bus bus, unsigned ctl, unsigned unit,
          const char *file, uint64_t cap, const char *target,
          const char *fmt)
{
  struct ferry_vm_disk *d = &f->disks[f->vm.n_disks++];
  memset (d, 0, sizeof *d);
  d->kind = FERRY_DISK_DISK;
  d->bus = bus;
  d->controller = ctl;
  d->unit = unit;
  d->file = S (file);
  d->present = true;
  d->mode = S ("persistent");
  d->device_type = S ("scsi-hardDisk");
  d->capacity = cap;
  d->target_path = S (target);
  d->target_format = S (fmt);
  f->vm.disks = f->disks;
  return d;
}

static void
add_ctl (struct fx *f, enum ferry_bus bus, unsigned index, const char *model)
{
  struct ferry_vm_controller *c = &f->ctl[f->vm.n_controllers++];
  c->bus = bus;
  c->index = index;
  c->model = S (model);
  c->present = true;
  c->shared_bus = false;
  f->vm.controllers = f->ctl;
}

static struct ferry_vm_nic *
add_nic (struct fx *f, const char *model, const char *mac, const char *net)
{
  struct ferry_vm_nic *n = &f->nics[f->vm.n_nics++];
  n->model = S (model);
  n->mac = S (mac);
  n->mac_static = false;
  n->network = S (net);
  n->present = true;
  n->start_connected = true;
  f->vm.nics = f->nics;
  return n;
}

/* BIOS Linux on an LSI Logic controller. */
static void
fx_bios_linux (struct fx *f)
{
  memset (f, 0, sizeof *f);
  f->vm.source = S ("/vms/web01/web01.vmx");
  f->vm.source_format = S ("vmx");
  f->vm.name = S ("web01");
  f->vm.uuid = S ("564d3e2f-9b22-ea5c-778e-0d2b3a9c4f11");
  f->vm.guest_os = S ("rhel8-64");
  f->vm.annotation = S ("Web server\nowner: ops & <infra>");
  f->vm.memory_mib = 4096;
  f->vm.vcpus = 4;
  f->vm.cores_per_socket = 2;
  f->vm.firmware = FERRY_FW_BIOS;
  add_ctl (f, FERRY_BUS_SCSI, 0, "lsilogic");
  struct ferry_vm_disk *d
    = add_disk (f, FERRY_BUS_SCSI, 0, 0, "web01.vmdk", 20 * GiB,
                "/var/lib/ferry/web01-sda.raw", "raw");
  d->bytes_copied = 3 * GiB;
  d->checksum = S ("sha256-tree:00ff");
  d->seconds = 12.5;
  d = &f->disks[f->vm.n_disks++];
  memset (d, 0, sizeof *d);
  d->kind = FERRY_DISK_CDROM;
  d->bus = FERRY_BUS_IDE;
  d->controller = 1;
  d->present = true;
  d->file = S ("/isos/rhel8.iso");
  add_nic (f, "vmxnet3", "00:50:56:aa:bb:01", "VM Network");
  f->vm.serials = f->serials;
  f->vm.n_serials = 1;
  f->serials[0].type = S ("file");
  f->serials[0].target = S ("serial.log");
  f->vm.warnings = f->warnings;
  f->vm.n_warnings = 1;
  f->warnings[0] = S ("ethernet1 has no networkName");
}

/* EFI + secure boot Windows with a vTPM and three NICs. */
static void
fx_win_sb (struct fx *f)
{
  memset (f, 0, sizeof *f);
  f->vm.source = S ("/vms/dc01/Win Server 2022 (DC).vmx");
  f->vm.source_format = S ("vmx");
  f->vm.name = S ("Win Server 2022 (DC)");
  f->vm.uuid = S ("420b6d09-2f5b-8b1c-b53f-3147016e05b5");
  f->vm.guest_os = S ("windows2019srvNext-64");
  f->vm.memory_mib = 8192;
  f->vm.vcpus = 8;
  f->vm.cores_per_socket = 4;
  f->vm.firmware = FERRY_FW_EFI;
  f->vm.secure_boot = true;
  f->vm.vtpm = true;
  add_ctl (f, FERRY_BUS_SCSI, 0, "lsisas1068");
  add_ctl (f, FERRY_BUS_SATA, 0, "ahci");
  add_disk (f, FERRY_BUS_SCSI, 0, 0, "[datastore1] dc01/dc01.vmdk", 60 * GiB,
            "/var/lib/ferry/dc01-sda.qcow2", "qcow2");
  /* 100.5 GiB: not a whole number of Gi. */
  add_disk (f, FERRY_BUS_SCSI, 0, 1, "[fastssd] dc01/dc01_1.vmdk",
            100 * GiB + GiB / 2, "/var/lib/ferry/dc01-sdb.qcow2", "qcow2");
  add_nic (f, "vmxnet3", "00:50:56:01:02:03", "VM Network");
  add_nic (f, "e1000e", "00:50:56:01:02:04", "Backup Net");
  struct ferry_vm_nic *n = add_nic (f, "vmxnet3", "00:0c:29:aa:00:05", "DMZ");
  n->start_connected = false;
}

/* Twelve disks over four controllers, listed out of order, plus an absent
 * and an independent disk. */
static void
fx_many_disks (struct fx *f)
{
  static const struct { enum ferry_bus bus; unsigned c, u; const char *file, *target; } t[] = {
    { FERRY_BUS_IDE, 0, 1, "ide0-1.vmdk", "/t/big-ide0-1.raw" },
    { FERRY_BUS_SATA, 0, 2, "sata0-2.vmdk", "/t/big-sata0-2.raw" },
    { FERRY_BUS_SCSI, 1, 0, "scsi1-0.vmdk", "/t/big-scsi1-0.raw" },
    { FERRY_BUS_SCSI, 0, 3, "scsi0-3.vmdk", "/t/big-scsi0-3.raw" },
    { FERRY_BUS_SCSI, 0, 0, "scsi0-0.vmdk", "/t/big-scsi0-0.raw" },
    { FERRY_BUS_SATA, 0, 0, "sata0-0.vmdk", "/t/big-sata0-0.raw" },
    { FERRY_BUS_SCSI, 1, 2, "scsi1-2.vmdk", "/t/big-scsi1-2.raw" },
    { FERRY_BUS_IDE, 0, 0, "ide0-0.vmdk", "/t/big-ide0-0.raw" },
    { FERRY_BUS_SCSI, 0, 1, "scsi0-1.vmdk", "/t/big-scsi0-1.raw" },
    { FERRY_BUS_SATA, 0, 1, "sata0-1.vmdk", "/t/big-sata0-1.raw" },
    { FERRY_BUS_SCSI, 1, 1, "scsi1-1.vmdk", "/t/big-scsi1-1.raw" },
    { FERRY_BUS_SCSI, 0, 2, "scsi0-2.vmdk", "/t/big-scsi0-2.raw" },
  };
  memset (f, 0, sizeof *f);
  f->vm.source = S ("/vms/big/big.vmx");
  f->vm.source_format = S ("vmx");
  f->vm.name = S ("bigdb");
  f->vm.uuid = S ("564d0000-1111-2222-3333-444455556666");
  f->vm.guest_os = S ("ubuntu-64");
  f->vm.memory_mib = 65536;
  f->vm.vcpus = 16;
  f->vm.cores_per_socket = 8;
  add_ctl (f, FERRY_BUS_SCSI, 0, "pvscsi");
  add_ctl (f, FERRY_BUS_SCSI, 1, "lsisas1068");
  add_ctl (f, FERRY_BUS_SATA, 0, "ahci");
  add_ctl (f, FERRY_BUS_IDE, 0, NULL);
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    add_disk (f, t[i].bus, t[i].c, t[i].u, t[i].file, (i + 1) * GiB,
              t[i].target, "raw");
  struct ferry_vm_disk *d
    = add_disk (f, FERRY_BUS_SCSI, 0, 5, "gone.vmdk", GiB, NULL, NULL);
  d->present = false;
  d = add_disk (f, FERRY_BUS_SCSI, 1, 3, "scratch.vmdk", 2 * GiB,
                "/t/big-scratch.raw", "raw");
  d->independent = true;
  d->mode = S ("independent-nonpersistent");
  add_nic (f, "vmxnet3", "00:50:56:00:00:aa", "VM Network");
}

/* An old Windows XP VM: machine pc. */
static void
fx_winxp (struct fx *f)
{
  memset (f, 0, sizeof *f);
  f->vm.source = S ("xp.vmx");
  f->vm.name = S ("xp");
  f->vm.guest_os = S ("winXPPro");
  f->vm.memory_mib = 512;
  f->vm.vcpus = 1;
  add_ctl (f, FERRY_BUS_IDE, 0, NULL);
  add_disk (f, FERRY_BUS_IDE, 0, 0, "xp.vmdk", 8 * GiB, "/t/xp-sda.raw", "raw");
  struct ferry_vm_disk *d = &f->disks[f->vm.n_disks++];
  memset (d, 0, sizeof *d);
  d->kind = FERRY_DISK_CDROM;
  d->bus = FERRY_BUS_IDE;
  d->controller = 1;
  d->present = true;
}

/* ---- output helpers ---------------------------------------------------- */

/* Run an emitter into a memory buffer (NUL-terminated, caller frees). */
enum which { LIBVIRT, KUBEVIRT };

static char *
emit_mem (enum which w, const struct ferry_vm *vm,
          const struct ferry_emit_opts *opts, int *rc)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  assert_non_null (f);
  ferry_error_clear ();
  *rc = w == LIBVIRT ? ferry_emit_libvirt (vm, opts, f)
                     : ferry_emit_kubevirt (vm, opts, f);
  fclose (f);
  return buf;
}

static char *
emit_ok (enum which w, const struct ferry_vm *vm,
         const struct ferry_emit_opts *opts)
{
  int rc;
  char *s = emit_mem (w, vm, opts, &rc);
  if (rc != 0)
    fail_msg ("emitter failed: %s", ferry_error_msg ());
  return s;
}

static void
emit_fail (enum which w, const struct ferry_vm *vm,
           const struct ferry_emit_opts *opts, enum ferry_errcode code,
           const char *needle)
{
  int rc;
  char *s = emit_mem (w, vm, opts, &rc);
  free (s);
  assert_int_equal (rc, -1);
  assert_int_equal (ferry_error_code (), code);
  if (!strstr (ferry_error_msg (), needle))
    fail_msg ("error '%s' does not mention '%s'", ferry_error_msg (), needle);
}

/* --- XML via XPath --- */

struct xdoc {
  xmlDocPtr doc;
  xmlXPathContextPtr ctx;
};

static struct xdoc
xml_parse (const char *s)
{
  struct xdoc x;
  x.doc = xmlReadMemory (s, (int) strlen (s), "domain.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR);
  if (!x.doc)
    fail_msg ("emitted XML does not parse:\n%s", s);
  x.ctx = xmlXPathNewContext (x.doc);
  assert_non_null (x.ctx);
  xmlXPathRegisterNs (x.ctx, BAD_CAST "ferry",
                      BAD_CAST "https://ferry.invalid/xmlns/vm/1.0");
  return x;
}

static void
xml_free (struct xdoc *x)
{
  xmlXPathFreeContext (x->ctx);
  xmlFreeDoc (x->doc);
}

/* The string value of an XPath expression (string(...), count(...), ...). */
static void
xp_eq (struct xdoc *x, const char *expr, const char *want)
{
  char full[512];
  snprintf (full, sizeof full, "string(%s)", expr);
  xmlXPathObjectPtr o = xmlXPathEvalExpression (BAD_CAST full, x->ctx);
  assert_non_null (o);
  const char *got = o->stringval ? (const char *) o->stringval : "";
  if (strcmp (got, want) != 0)
    fail_msg ("%s: got '%s', want '%s'", expr, got, want);
  xmlXPathFreeObject (o);
}

static double
xp_num (struct xdoc *x, const char *expr)
{
  xmlXPathObjectPtr o = xmlXPathEvalExpression (BAD_CAST expr, x->ctx);
  assert_non_null (o);
  double v = o->floatval;
  xmlXPathFreeObject (o);
  return v;
}

#define XP_COUNT(x, expr, n) \
  do { double v_ = xp_num (x, "count(" expr ")"); \
       if (v_ != (n)) fail_msg ("count(%s) = %g, want %d", expr, v_, (int) (n)); \
  } while (0)

/* --- YAML documents --- */

struct ydocs {
  yaml_document_t doc[24];
  size_t n;
};

static void
yaml_parse (const char *s, struct ydocs *y)
{
  yaml_parser_t p;
  assert_true (yaml_parser_initialize (&p));
  yaml_parser_set_input_string (&p, (const unsigned char *) s, strlen (s));
  y->n = 0;
  for (;;)
    {
      assert_true (y->n < 24);
      if (!yaml_parser_load (&p, &y->doc[y->n]))
        fail_msg ("YAML does not parse: %s\n%s", p.problem, s);
      if (!yaml_document_get_root_node (&y->doc[y->n]))
        {
          yaml_document_delete (&y->doc[y->n]);
          break;
        }
      y->n++;
    }
  yaml_parser_delete (&p);
}

static void
yaml_free (struct ydocs *y)
{
  for (size_t i = 0; i < y->n; i++)
    yaml_document_delete (&y->doc[i]);
}

/* Follow a path "a.b[2].c" from the root; keys holding '.' are looked up
 * with the '|' separator instead ("metadata|labels|kubevirt.io/domain"). */
static yaml_node_t *
ynode (yaml_document_t *d, const char *path)
{
  yaml_node_t *n = yaml_document_get_root_node (d);
  char sep = strchr (path, '|') ? '|' : '.';
  const char *p = path;

  while (n && *p)
    {
      char key[128];
      size_t k = 0;
      while (*p && *p != sep && *p != '[' && k < sizeof key - 1)
        key[k++] = *p++;
      key[k] = 0;
      if (k)
        {
          yaml_node_t *next = NULL;
          if (n->type != YAML_MAPPING_NODE)
            return NULL;
          for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
               pr < n->data.mapping.pairs.top; pr++)
            {
              yaml_node_t *kn = yaml_document_get_node (d, pr->key);
              if (kn->type == YAML_SCALAR_NODE
                  && strcmp ((char *) kn->data.scalar.value, key) == 0)
                next = yaml_document_get_node (d, pr->value);
            }
          n = next;
        }
      while (n && *p == '[')
        {
          char *end;
          long i = strtol (p + 1, &end, 10);
          p = end + 1;
          if (n->type != YAML_SEQUENCE_NODE
              || i >= n->data.sequence.items.top - n->data.sequence.items.start)
            return NULL;
          n = yaml_document_get_node (d, n->data.sequence.items.start[i]);
        }
      if (*p == sep)
        p++;
    }
  return n;
}

static void
y_eq (yaml_document_t *d, const char *path, const char *want)
{
  yaml_node_t *n = ynode (d, path);
  if (!n)
    fail_msg ("%s: missing", path);
  if (n->type != YAML_SCALAR_NODE)
    fail_msg ("%s: not a scalar", path);
  if (strcmp ((char *) n->data.scalar.value, want) != 0)
    fail_msg ("%s: got '%s', want '%s'", path, n->data.scalar.value, want);
}

/* A scalar that a YAML 1.1 reader types as a string must be quoted or a
 * plain word; check it is not plain when it looks like a number/bool. */
static void
y_is_plain (yaml_document_t *d, const char *path, bool plain)
{
  yaml_node_t *n = ynode (d, path);
  assert_non_null (n);
  assert_int_equal (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE, plain);
}

static size_t
y_len (yaml_document_t *d, const char *path)
{
  yaml_node_t *n = ynode (d, path);
  if (!n)
    fail_msg ("%s: missing", path);
  if (n->type == YAML_SEQUENCE_NODE)
    return (size_t) (n->data.sequence.items.top - n->data.sequence.items.start);
  if (n->type == YAML_MAPPING_NODE)
    return (size_t) (n->data.mapping.pairs.top - n->data.mapping.pairs.start);
  fail_msg ("%s: not a collection", path);
  return 0;
}

/* --- JSON --- */

static json_object *
jpath (json_object *o, const char *path)
{
  char buf[256];
  snprintf (buf, sizeof buf, "%s", path);
  for (char *save = NULL, *tok = strtok_r (buf, ".", &save); tok && o;
       tok = strtok_r (NULL, ".", &save))
    {
      if (tok[0] >= '0' && tok[0] <= '9')
        o = json_object_array_get_idx (o, (size_t) atoi (tok));
      else if (!json_object_object_get_ex (o, tok, &o))
        return NULL;
    }
  return o;
}

/* ---- output directory for the validation script ----------------------- */

static char outdir[4096];
static bool outdir_tmp;

static int
setup_outdir (void **state)
{
  (void) state;
  const char *e = getenv ("FERRY_EMIT_OUT");
  if (e && *e)
    {
      snprintf (outdir, sizeof outdir, "%s", e);
      mkdir (outdir, 0755);
    }
  else
    {
      const char *tmp = getenv ("TMPDIR");
      snprintf (outdir, sizeof outdir, "%s/ferry-emit.XXXXXX", tmp ? tmp : "/tmp");
      if (!mkdtemp (outdir))
        return -1;
      outdir_tmp = true;
    }
  return 0;
}

static int
teardown_outdir (void **state)
{
  (void) state;
  if (outdir_tmp)
    {
      char cmd[4200];
      snprintf (cmd, sizeof cmd, "rm -rf '%s'", outdir);
      if (system (cmd) != 0)
        return -1;
    }
  return 0;
}

/* Write NAME.xml, NAME.kubevirt.yaml and NAME.report.json through the
 * *_file functions, and check the files match the in-memory output. */
static void
write_all (const char *base, const struct ferry_vm *vm,
           const struct ferry_emit_opts *opts)
{
  char path[4200];
  struct ferry_findings f = { 0 };
  const struct ferry_vm *vms[1] = { vm };

  snprintf (path, sizeof path, "%s/%s.xml", outdir, base);
  if (ferry_emit_libvirt_file (vm, opts, path) != 0)
    fail_msg ("%s", ferry_error_msg ());
  snprintf (path, sizeof path, "%s/%s.kubevirt.yaml", outdir, base);
  if (opts && opts->disk_bus == FERRY_DISK_BUS_IDE)
    {
      /* KubeVirt has no IDE: refused, and nothing is left behind. */
      assert_int_equal (ferry_emit_kubevirt_file (vm, opts, path), -1);
      assert_int_equal (access (path, F_OK), -1);
      strcat (path, ".part");
      assert_int_equal (access (path, F_OK), -1);
    }
  else if (ferry_emit_kubevirt_file (vm, opts, path) != 0)
    fail_msg ("%s", ferry_error_msg ());
  assert_int_equal (ferry_preflight (vms, 1, opts, &f), 0);
  snprintf (path, sizeof path, "%s/%s.report.json", outdir, base);
  if (ferry_emit_report_file (vm, &f, NULL, path) != 0)
    fail_msg ("%s", ferry_error_msg ());
  ferry_findings_free (&f);
  snprintf (path, sizeof path, "%s/%s.report.json.part", outdir, base);
  assert_int_equal (access (path, F_OK), -1);
}

/* ---- libvirt ----------------------------------------------------------- */

static void
test_libvirt_bios_linux (void **state)
{
  (void) state;
  struct fx f;
  fx_bios_linux (&f);
  char *s = emit_ok (LIBVIRT, &f.vm, NULL);
  struct xdoc x = xml_parse (s);

  xp_eq (&x, "/domain/@type", "kvm");
  xp_eq (&x, "/domain/name", "web01");
  xp_eq (&x, "/domain/uuid", "564d3e2f-9b22-ea5c-778e-0d2b3a9c4f11");
  xp_eq (&x, "/domain/description", "Web server\nowner: ops & <infra>");
  xp_eq (&x, "/domain/metadata/ferry:vm/ferry:guest-os", "rhel8-64");
  xp_eq (&x, "/domain/memory", "4194304");
  xp_eq (&x, "/domain/memory/@unit", "KiB");
  xp_eq (&x, "/domain/currentMemory", "4194304");
  xp_eq (&x, "/domain/vcpu", "4");
  xp_eq (&x, "/domain/cpu/@mode", "host-passthrough");
  xp_eq (&x, "/domain/cpu/topology/@sockets", "2");
  xp_eq (&x, "/domain/cpu/topology/@cores", "2");
  xp_eq (&x, "/domain/cpu/topology/@threads", "1");
  xp_eq (&x, "/domain/os/type/@machine", "q35");
  xp_eq (&x, "/domain/os/type", "hvm");
  XP_COUNT (&x, "/domain/os/@firmware", 0);
  XP_COUNT (&x, "/domain/os/firmware", 0);
  xp_eq (&x, "/domain/sysinfo/system/entry[@name='serial']",
         "VMware-56 4d 3e 2f 9b 22 ea 5c-77 8e 0d 2b 3a 9c 4f 11");
  XP_COUNT (&x, "/domain/features/acpi", 1);
  XP_COUNT (&x, "/domain/features/apic", 1);
  XP_COUNT (&x, "/domain/features/smm", 0);
  XP_COUNT (&x, "/domain/features/hyperv", 0);
  xp_eq (&x, "/domain/clock/@offset", "utc");
  /* the one disk */
  XP_COUNT (&x, "/domain/devices/disk[@device='disk']", 1);
  xp_eq (&x, "/domain/devices/disk[@device='disk']/@type", "file");
  xp_eq (&x, "/domain/devices/disk[1]/driver/@name", "qemu");
  xp_eq (&x, "/domain/devices/disk[1]/driver/@type", "raw");
  xp_eq (&x, "/domain/devices/disk[1]/driver/@cache", "none");
  xp_eq (&x, "/domain/devices/disk[1]/driver/@io", "native");
  xp_eq (&x, "/domain/devices/disk[1]/driver/@discard", "unmap");
  xp_eq (&x, "/domain/devices/disk[1]/source/@file", "/var/lib/ferry/web01-sda.raw");
  xp_eq (&x, "/domain/devices/disk[1]/target/@dev", "vda");
  xp_eq (&x, "/domain/devices/disk[1]/target/@bus", "virtio");
  xp_eq (&x, "/domain/devices/disk[1]/boot/@order", "1");
  /* the CD-ROM: empty, on SATA (q35) */
  XP_COUNT (&x, "/domain/devices/disk[@device='cdrom']", 1);
  XP_COUNT (&x, "/domain/devices/disk[@device='cdrom']/source", 0);
  xp_eq (&x, "/domain/devices/disk[@device='cdrom']/target/@bus", "sata");
  xp_eq (&x, "/domain/devices/disk[@device='cdrom']/target/@dev", "sda");
  XP_COUNT (&x, "/domain/devices/disk[@device='cdrom']/readonly", 1);
  /* NIC: default network */
  XP_COUNT (&x, "/domain/devices/interface", 1);
  xp_eq (&x, "/domain/devices/interface/@type", "network");
  xp_eq (&x, "/domain/devices/interface/source/@network", "default");
  xp_eq (&x, "/domain/devices/interface/mac/@address", "00:50:56:aa:bb:01");
  xp_eq (&x, "/domain/devices/interface/model/@type", "virtio");
  XP_COUNT (&x, "/domain/devices/interface/link", 0);
  /* the rest */
  xp_eq (&x, "/domain/devices/serial/@type", "pty");
  xp_eq (&x, "/domain/devices/console/@type", "pty");
  xp_eq (&x, "/domain/devices/console/target/@type", "serial");
  xp_eq (&x, "/domain/devices/channel/@type", "unix");
  xp_eq (&x, "/domain/devices/channel/target/@name", "org.qemu.guest_agent.0");
  xp_eq (&x, "/domain/devices/rng/@model", "virtio");
  xp_eq (&x, "/domain/devices/rng/backend", "/dev/urandom");
  xp_eq (&x, "/domain/devices/memballoon/@model", "virtio");
  XP_COUNT (&x, "/domain/devices/tpm", 0);
  xp_eq (&x, "/domain/devices/video/model/@type", "virtio");
  xp_eq (&x, "/domain/devices/graphics/@type", "vnc");
  xp_eq (&x, "/domain/devices/graphics/listen/@address", "127.0.0.1");
  xml_free (&x);
  free (s);
  write_all ("web01", &f.vm, NULL);
}

static void
test_libvirt_win_secure_boot (void **state)
{
  (void) state;
  struct fx f;
  struct ferry_emit_opts o;
  const char *map[] = { "VM Network=bridge:br0", "DMZ=network:dmz",
                        "*=network:backup", "VM Network=multus:prod/vlan10",
                        "Backup Net=multus:backup", "DMZ=pod" };
  fx_win_sb (&f);
  ferry_emit_opts_init (&o);
  o.network_map = map;
  o.n_network_map = 6;
  char *s = emit_ok (LIBVIRT, &f.vm, &o);
  struct xdoc x = xml_parse (s);

  xp_eq (&x, "/domain/name", "Win Server 2022 (DC)");
  xp_eq (&x, "/domain/os/@firmware", "efi");
  xp_eq (&x, "/domain/os/type/@machine", "q35");
  xp_eq (&x, "/domain/os/firmware/feature[@name='secure-boot']/@enabled", "yes");
  xp_eq (&x, "/domain/os/firmware/feature[@name='enrolled-keys']/@enabled", "yes");
  xp_eq (&x, "/domain/features/smm/@state", "on");
  xp_eq (&x, "/domain/features/hyperv/relaxed/@state", "on");
  xp_eq (&x, "/domain/features/hyperv/spinlocks/@retries", "8191");
  xp_eq (&x, "/domain/clock/@offset", "localtime");
  XP_COUNT (&x, "/domain/clock/timer[@name='hypervclock']", 1);
  xp_eq (&x, "/domain/cpu/topology/@sockets", "2");
  xp_eq (&x, "/domain/cpu/topology/@cores", "4");
  xp_eq (&x, "/domain/devices/video/model/@type", "qxl");
  xp_eq (&x, "/domain/devices/tpm/@model", "tpm-crb");
  xp_eq (&x, "/domain/devices/tpm/backend/@type", "emulator");
  xp_eq (&x, "/domain/devices/tpm/backend/@version", "2.0");
  XP_COUNT (&x, "/domain/devices/disk[@device='disk']", 2);
  xp_eq (&x, "/domain/devices/disk[1]/driver/@type", "qcow2");
  xp_eq (&x, "/domain/devices/disk[2]/target/@dev", "vdb");
  XP_COUNT (&x, "/domain/devices/disk/boot", 1);
  XP_COUNT (&x, "/domain/devices/interface", 3);
  xp_eq (&x, "/domain/devices/interface[1]/@type", "bridge");
  xp_eq (&x, "/domain/devices/interface[1]/source/@bridge", "br0");
  xp_eq (&x, "/domain/devices/interface[2]/@type", "network");
  xp_eq (&x, "/domain/devices/interface[2]/source/@network", "backup");
  xp_eq (&x, "/domain/devices/interface[3]/source/@network", "dmz");
  xp_eq (&x, "/domain/devices/interface[3]/mac/@address", "00:0c:29:aa:00:05");
  xp_eq (&x, "/domain/devices/interface[3]/link/@state", "down");
  xml_free (&x);
  free (s);
  write_all ("win-sb", &f.vm, &o);

  /* EFI without secure boot: the feature is explicitly off, no SMM. */
  f.vm.secure_boot = false;
  s = emit_ok (LIBVIRT, &f.vm, &o);
  x = xml_parse (s);
  xp_eq (&x, "/domain/os/@firmware", "efi");
  xp_eq (&x, "/domain/os/firmware/feature[@name='secure-boot']/@enabled", "no");
  XP_COUNT (&x, "/domain/features/smm", 0);
  xml_free (&x);
  free (s);
  write_all ("win-efi", &f.vm, &o);
}

static void
test_libvirt_many_disks (void **state)
{
  (void) state;
  struct fx f;
  static const char *const want[] = {
    "scsi0-0", "scsi0-1", "scsi0-2", "scsi0-3", "scsi1-0", "scsi1-1",
    "scsi1-2", "scratch", "sata0-0", "sata0-1", "sata0-2", "ide0-0", "ide0-1",
  };
  fx_many_disks (&f);
  char *s = emit_ok (LIBVIRT, &f.vm, NULL);
  struct xdoc x = xml_parse (s);

  XP_COUNT (&x, "/domain/devices/disk", 13);
  for (size_t i = 0; i < 13; i++)
    {
      char expr[128], val[64], dev[8];
      snprintf (expr, sizeof expr, "/domain/devices/disk[%zu]/source/@file", i + 1);
      snprintf (val, sizeof val, "/t/big-%s.raw", want[i]);
      xp_eq (&x, expr, val);
      snprintf (expr, sizeof expr, "/domain/devices/disk[%zu]/target/@dev", i + 1);
      snprintf (dev, sizeof dev, "vd%c", (char) ('a' + i));
      xp_eq (&x, expr, dev);
    }
  xp_eq (&x, "/domain/devices/disk[boot]/target/@dev", "vda");
  XP_COUNT (&x, "/domain/devices/disk/boot", 1);
  xp_eq (&x, "/domain/cpu/topology/@sockets", "2");
  xp_eq (&x, "/domain/cpu/topology/@cores", "8");
  xp_eq (&x, "/domain/memory", "67108864");
  xp_eq (&x, "/domain/os/type/@machine", "q35");
  xml_free (&x);
  free (s);
  write_all ("bigdb", &f.vm, NULL);

  /* Disks on SATA (the guest has no virtio driver): sda..; on virtio-scsi:
   * one controller. */
  struct ferry_emit_opts o;
  ferry_emit_opts_init (&o);
  o.disk_bus = FERRY_DISK_BUS_SATA;
  o.cpu_mode = FERRY_CPU_HOST_MODEL;
  s = emit_ok (LIBVIRT, &f.vm, &o);
  x = xml_parse (s);
  xp_eq (&x, "/domain/devices/disk[1]/target/@bus", "sata");
  xp_eq (&x, "/domain/devices/disk[1]/target/@dev", "sda");
  xp_eq (&x, "/domain/devices/disk[13]/target/@dev", "sdm");
  xp_eq (&x, "/domain/cpu/@mode", "host-model");
  xml_free (&x);
  free (s);
  write_all ("bigdb-sata", &f.vm, &o);

  o.disk_bus = FERRY_DISK_BUS_SCSI;
  s = emit_ok (LIBVIRT, &f.vm, &o);
  x = xml_parse (s);
  xp_eq (&x, "/domain/devices/disk[1]/target/@bus", "scsi");
  xp_eq (&x, "/domain/devices/controller[@type='scsi']/@model", "virtio-scsi");
  xml_free (&x);
  free (s);
  write_all ("bigdb-scsi", &f.vm, &o);
}

static void
test_libvirt_machine (void **state)
{
  (void) state;
  struct fx f;
  struct ferry_emit_opts o;
  fx_winxp (&f);
  char *s = emit_ok (LIBVIRT, &f.vm, NULL);
  struct xdoc x = xml_parse (s);
  xp_eq (&x, "/domain/os/type/@machine", "pc");
  xp_eq (&x, "/domain/devices/disk[@device='cdrom']/target/@bus", "ide");
  xp_eq (&x, "/domain/devices/disk[@device='cdrom']/target/@dev", "hda");
  XP_COUNT (&x, "/domain/uuid", 0);
  XP_COUNT (&x, "/domain/sysinfo", 0);
  xml_free (&x);
  free (s);
  write_all ("xp", &f.vm, NULL);

  ferry_emit_opts_init (&o);
  o.disk_bus = FERRY_DISK_BUS_IDE;
  s = emit_ok (LIBVIRT, &f.vm, &o);
  x = xml_parse (s);
  xp_eq (&x, "/domain/devices/disk[1]/target/@dev", "hda");
  xp_eq (&x, "/domain/devices/disk[@device='cdrom']/target/@dev", "hdb");
  xml_free (&x);
  free (s);
  write_all ("xp-ide", &f.vm, &o);

  o.machine = FERRY_MACHINE_Q35;
  emit_fail (LIBVIRT, &f.vm, &o, FERRY_E_USAGE, "q35 has no IDE");
  o.disk_bus = FERRY_DISK_BUS_VIRTIO;
  s = emit_ok (LIBVIRT, &f.vm, &o);
  x = xml_parse (s);
  xp_eq (&x, "/domain/os/type/@machine", "q35");
  xml_free (&x);
  free (s);

  assert_true (ferry_guest_is_legacy ("rhel5-64"));
  assert_true (ferry_guest_is_legacy ("win2000Serv"));
  assert_true (ferry_guest_is_legacy ("winNetStandard"));
  assert_false (ferry_guest_is_legacy ("rhel7-64"));
  assert_false (ferry_guest_is_legacy ("windows9-64"));
  assert_false (ferry_guest_is_legacy (NULL));
  assert_false (ferry_guest_is_legacy ("ubuntu-64")); /* VMware's id for every Ubuntu */
  assert_true (ferry_guest_is_legacy ("winXPProGuest"));     /* vSphere API */
  assert_true (ferry_guest_is_legacy ("rhel5_64Guest"));
  assert_false (ferry_guest_is_legacy ("rhel8_64Guest"));
  assert_true (ferry_guest_is_legacy ("WindowsXP_64"));      /* VirtualBox */
  assert_false (ferry_guest_is_legacy ("Windows2019_64"));
  assert_true (ferry_guest_is_windows ("WindowsXP_64"));
  assert_true (ferry_guest_is_windows ("windows2019srv-64"));
  assert_true (ferry_guest_is_windows ("longhorn-64"));
  assert_false (ferry_guest_is_windows ("ubuntu-64"));

  /* EFI always q35, even for an old id; pc forced + secure boot refused. */
  f.vm.firmware = FERRY_FW_EFI;
  assert_string_equal (ferry_emit_machine (&f.vm, NULL), "q35");
  f.vm.secure_boot = true;
  o.machine = FERRY_MACHINE_PC;
  emit_fail (LIBVIRT, &f.vm, &o, FERRY_E_USAGE, "secure boot needs the q35");
  /* Secure boot on BIOS: impossible, the VM keeps BIOS. */
  f.vm.firmware = FERRY_FW_BIOS;
  s = emit_ok (LIBVIRT, &f.vm, &o);
  x = xml_parse (s);
  XP_COUNT (&x, "/domain/os/@firmware", 0);
  XP_COUNT (&x, "/domain/features/smm", 0);
  xml_free (&x);
  free (s);
}

static void
test_libvirt_errors (void **state)
{
  (void) state;
  struct fx f;
  struct ferry_emit_opts o;
  const char *bad1[] = { "VM Network" };
  const char *bad2[] = { "VM Network=switch:x" };
  const char *bad3[] = { "VM Network=bridge:" };
  const char *bad4[] = { "VM Network=pod:x" };

  fx_bios_linux (&f);
  f.vm.memory_mib = 0;
  emit_fail (LIBVIRT, &f.vm, NULL, FERRY_E_INPUT, "memory");
  emit_fail (KUBEVIRT, &f.vm, NULL, FERRY_E_INPUT, "memory");

  fx_bios_linux (&f);
  f.disks[0].target_path = NULL;
  emit_fail (LIBVIRT, &f.vm, NULL, FERRY_E_INPUT, "web01.vmdk");
  fx_bios_linux (&f);
  f.disks[0].target_format = S ("vmdk");
  emit_fail (LIBVIRT, &f.vm, NULL, FERRY_E_INPUT, "unknown format 'vmdk'");
  fx_bios_linux (&f);
  f.nics[0].mac = S ("00:50:56:zz:00:01");
  emit_fail (LIBVIRT, &f.vm, NULL, FERRY_E_INPUT, "00:50:56:zz:00:01");
  emit_fail (KUBEVIRT, &f.vm, NULL, FERRY_E_INPUT, "00:50:56:zz:00:01");

  fx_bios_linux (&f);
  ferry_emit_opts_init (&o);
  o.n_network_map = 1;
  o.network_map = bad1;
  emit_fail (LIBVIRT, &f.vm, &o, FERRY_E_USAGE, "SRC=VALUE");
  o.network_map = bad2;
  emit_fail (LIBVIRT, &f.vm, &o, FERRY_E_USAGE, "type must be");
  o.network_map = bad3;
  emit_fail (LIBVIRT, &f.vm, &o, FERRY_E_USAGE, "needs a name");
  o.network_map = bad4;
  emit_fail (KUBEVIRT, &f.vm, &o, FERRY_E_USAGE, "pod takes no name");

  /* No name and no source. */
  fx_bios_linux (&f);
  f.vm.name = NULL;
  f.vm.source = NULL;
  emit_fail (LIBVIRT, &f.vm, NULL, FERRY_E_INPUT, "no name");
  /* No name: the source's base name. */
  f.vm.source = S ("/a/b/My VM.vmx");
  char *s = emit_ok (LIBVIRT, &f.vm, NULL);
  struct xdoc x = xml_parse (s);
  xp_eq (&x, "/domain/name", "My VM");
  xml_free (&x);
  free (s);

  /* Hostile text: control characters, bad UTF-8, '/' in the name. */
  f.vm.name = S ("a/b\x01\xff\xc3\xa9");
  f.vm.annotation = S ("bell\x07 tab\t]]> \xed\xa0\x80");
  s = emit_ok (LIBVIRT, &f.vm, NULL);
  x = xml_parse (s);
  xp_eq (&x, "/domain/name", "a_b__\xc3\xa9");
  xp_eq (&x, "/domain/description", "bell_ tab\t]]> ___");
  xml_free (&x);
  free (s);
  s = emit_ok (KUBEVIRT, &f.vm, NULL);
  struct ydocs y;
  yaml_parse (s, &y);
  y_eq (&y.doc[0], "metadata|annotations|ferry.io/original-name", "a_b__\xc3\xa9");
  yaml_free (&y);
  free (s);
}

/* ---- KubeVirt --------------------------------------------------------- */

static void
test_kubevirt_bios_linux (void **state)
{
  (void) state;
  struct fx f;
  struct ydocs y;
  fx_bios_linux (&f);
  char *s = emit_ok (KUBEVIRT, &f.vm, NULL);
  yaml_parse (s, &y);
  assert_int_equal (y.n, 2);
  yaml_document_t *vm = &y.doc[0], *dv = &y.doc[1];

  y_eq (vm, "apiVersion", "kubevirt.io/v1");
  y_eq (vm, "kind", "VirtualMachine");
  y_eq (vm, "metadata.name", "web01");
  y_eq (vm, "metadata|labels|app.kubernetes.io/managed-by", "ferry");
  y_eq (vm, "spec.runStrategy", "Halted");
  y_eq (vm, "spec|template|metadata|labels|kubevirt.io/domain", "web01");
  y_eq (vm, "spec.template.spec.domain.cpu.sockets", "2");
  y_eq (vm, "spec.template.spec.domain.cpu.cores", "2");
  y_eq (vm, "spec.template.spec.domain.cpu.threads", "1");
  y_is_plain (vm, "spec.template.spec.domain.cpu.cores", true);
  y_eq (vm, "spec.template.spec.domain.memory.guest", "4096Mi");
  y_eq (vm, "spec.template.spec.domain.firmware.uuid",
        "564d3e2f-9b22-ea5c-778e-0d2b3a9c4f11");
  y_eq (vm, "spec.template.spec.domain.firmware.serial",
        "VMware-56 4d 3e 2f 9b 22 ea 5c-77 8e 0d 2b 3a 9c 4f 11");
  assert_int_equal (y_len (vm, "spec.template.spec.domain.firmware.bootloader.bios"), 0);
  assert_null (ynode (vm, "spec.template.spec.domain.firmware.bootloader.efi"));
  assert_null (ynode (vm, "spec.template.spec.domain.features.smm"));
  assert_int_equal (y_len (vm, "spec.template.spec.domain.devices.disks"), 1);
  y_eq (vm, "spec.template.spec.domain.devices.disks[0].name", "disk-0");
  y_eq (vm, "spec.template.spec.domain.devices.disks[0].disk.bus", "virtio");
  y_eq (vm, "spec.template.spec.domain.devices.disks[0].bootOrder", "1");
  y_eq (vm, "spec.template.spec.domain.devices.interfaces[0].name", "net-0");
  y_eq (vm, "spec.template.spec.domain.devices.interfaces[0].macAddress",
        "00:50:56:aa:bb:01");
  y_eq (vm, "spec.template.spec.domain.devices.interfaces[0].model", "virtio");
  assert_non_null (ynode (vm, "spec.template.spec.domain.devices.interfaces[0].masquerade"));
  y_eq (vm, "spec.template.spec.networks[0].name", "net-0");
  assert_non_null (ynode (vm, "spec.template.spec.networks[0].pod"));
  y_eq (vm, "spec.template.spec.volumes[0].name", "disk-0");
  y_eq (vm, "spec.template.spec.volumes[0].dataVolume.name", "web01-disk-0");
  assert_null (ynode (vm, "spec.template.spec.domain.devices.tpm"));

  y_eq (dv, "apiVersion", "cdi.kubevirt.io/v1beta1");
  y_eq (dv, "kind", "DataVolume");
  y_eq (dv, "metadata.name", "web01-disk-0");
  y_eq (dv, "metadata|annotations|ferry.io/image-path", "/var/lib/ferry/web01-sda.raw");
  assert_int_equal (y_len (dv, "spec.source.upload"), 0);
  y_eq (dv, "spec.storage.resources.requests.storage", "20Gi");
  y_eq (dv, "spec.storage.volumeMode", "Block");
  y_eq (dv, "spec.storage.accessModes[0]", "ReadWriteOnce");
  assert_null (ynode (dv, "spec.storage.storageClassName"));
  yaml_free (&y);
  free (s);
}

static void
test_kubevirt_win_secure_boot (void **state)
{
  (void) state;
  struct fx f;
  struct ydocs y;
  struct ferry_emit_opts o;
  const char *nets[] = { "VM Network=multus:prod/vlan10", "Backup Net=multus:backup",
                         "DMZ=pod", "VM Network=bridge:br0" };
  const char *stor[] = { "fastssd=ssd-rbd", "*=standard", "datastore1=ceph-block" };
  fx_win_sb (&f);
  ferry_emit_opts_init (&o);
  o.network_map = nets;
  o.n_network_map = 4;
  o.storage_map = stor;
  o.n_storage_map = 3;
  o.kv_namespace = "migrated";
  o.kv_volume_mode = FERRY_KV_FILESYSTEM;
  o.kv_run_strategy = "Always";
  char *s = emit_ok (KUBEVIRT, &f.vm, &o);
  yaml_parse (s, &y);
  assert_int_equal (y.n, 3);
  yaml_document_t *vm = &y.doc[0];
  char *name = ferry_k8s_name ("Win Server 2022 (DC)", 63);
  assert_non_null (name);
  assert_int_equal (strncmp (name, "win-server-2022-dc-", 19), 0);
  assert_int_equal (strlen (name), 19 + 8);

  y_eq (vm, "metadata.name", name);
  y_eq (vm, "metadata.namespace", "migrated");
  y_eq (vm, "metadata|annotations|ferry.io/original-name", "Win Server 2022 (DC)");
  y_eq (vm, "spec.runStrategy", "Always");
  y_eq (vm, "spec.template.spec.domain.cpu.sockets", "2");
  y_eq (vm, "spec.template.spec.domain.cpu.cores", "4");
  y_eq (vm, "spec.template.spec.domain.memory.guest", "8192Mi");
  y_eq (vm, "spec.template.spec.domain.firmware.bootloader.efi.secureBoot", "true");
  y_is_plain (vm, "spec.template.spec.domain.firmware.bootloader.efi.secureBoot", true);
  y_eq (vm, "spec.template.spec.domain.features.smm.enabled", "true");
  assert_non_null (ynode (vm, "spec.template.spec.domain.features.hyperv.relaxed"));
  y_eq (vm, "spec.template.spec.domain.features.hyperv.spinlocks.spinlocks", "8191");
  y_eq (vm, "spec.template.spec.domain.firmware.uuid",
        "420b6d09-2f5b-8b1c-b53f-3147016e05b5");
  assert_non_null (ynode (vm, "spec.template.spec.domain.devices.tpm"));
  assert_int_equal (y_len (vm, "spec.template.spec.domain.devices.disks"), 2);
  assert_null (ynode (vm, "spec.template.spec.domain.devices.disks[1].bootOrder"));
  assert_int_equal (y_len (vm, "spec.template.spec.domain.devices.interfaces"), 3);
  assert_non_null (ynode (vm, "spec.template.spec.domain.devices.interfaces[0].bridge"));
  assert_non_null (ynode (vm, "spec.template.spec.domain.devices.interfaces[2].masquerade"));
  y_eq (vm, "spec.template.spec.domain.devices.interfaces[1].macAddress", "00:50:56:01:02:04");
  y_eq (vm, "spec.template.spec.networks[0].multus.networkName", "prod/vlan10");
  y_eq (vm, "spec.template.spec.networks[1].multus.networkName", "backup");
  assert_non_null (ynode (vm, "spec.template.spec.networks[2].pod"));

  char vol[80];
  snprintf (vol, sizeof vol, "%s-disk-1", name);
  y_eq (vm, "spec.template.spec.volumes[1].dataVolume.name", vol);
  y_eq (&y.doc[2], "metadata.name", vol);
  y_eq (&y.doc[2], "metadata.namespace", "migrated");
  y_eq (&y.doc[1], "spec.storage.storageClassName", "ceph-block");
  y_eq (&y.doc[2], "spec.storage.storageClassName", "ssd-rbd");
  y_eq (&y.doc[1], "spec.storage.resources.requests.storage", "60Gi");
  y_eq (&y.doc[2], "spec.storage.resources.requests.storage", "102912Mi");
  y_eq (&y.doc[2], "spec.storage.volumeMode", "Filesystem");
  yaml_free (&y);
  free (s);
  write_all ("win-sb-kv", &f.vm, &o);

  /* PVCs instead of DataVolumes; blank DataVolume source. */
  o.kv_disk = FERRY_KV_PVC;
  o.kv_volume_mode = FERRY_KV_BLOCK;
  s = emit_ok (KUBEVIRT, &f.vm, &o);
  yaml_parse (s, &y);
  assert_int_equal (y.n, 3);
  y_eq (&y.doc[0], "spec.template.spec.volumes[0].persistentVolumeClaim.claimName",
        (snprintf (vol, sizeof vol, "%s-disk-0", name), vol));
  y_eq (&y.doc[1], "apiVersion", "v1");
  y_eq (&y.doc[1], "kind", "PersistentVolumeClaim");
  y_eq (&y.doc[1], "metadata.name", vol);
  y_eq (&y.doc[1], "spec.resources.requests.storage", "60Gi");
  y_eq (&y.doc[1], "spec.volumeMode", "Block");
  y_eq (&y.doc[1], "spec.accessModes[0]", "ReadWriteOnce");
  y_eq (&y.doc[1], "spec.storageClassName", "ceph-block");
  yaml_free (&y);
  free (s);
  write_all ("win-sb-pvc", &f.vm, &o);

  o.kv_disk = FERRY_KV_DATAVOLUME;
  o.kv_dv_source = FERRY_KV_SOURCE_BLANK;
  s = emit_ok (KUBEVIRT, &f.vm, &o);
  yaml_parse (s, &y);
  assert_non_null (ynode (&y.doc[1], "spec.source.blank"));
  yaml_free (&y);
  free (s);

  /* Three NICs, no map: all would use the pod network. */
  ferry_emit_opts_init (&o);
  emit_fail (KUBEVIRT, &f.vm, &o, FERRY_E_USAGE, "pod network");
  /* A bad storage class / namespace / run strategy. */
  o.network_map = nets;
  o.n_network_map = 4;
  const char *badsc[] = { "*=Fast_SSD" };
  o.storage_map = badsc;
  o.n_storage_map = 1;
  emit_fail (KUBEVIRT, &f.vm, &o, FERRY_E_USAGE, "storage class");
  o.n_storage_map = 0;
  o.kv_namespace = "Bad NS";
  emit_fail (KUBEVIRT, &f.vm, &o, FERRY_E_USAGE, "namespace");
  o.kv_namespace = NULL;
  o.kv_run_strategy = "Sometimes";
  emit_fail (KUBEVIRT, &f.vm, &o, FERRY_E_USAGE, "run strategy");
  o.kv_run_strategy = NULL;
  o.disk_bus = FERRY_DISK_BUS_IDE;
  emit_fail (KUBEVIRT, &f.vm, &o, FERRY_E_USAGE, "IDE");
  /* No capacity: the volume cannot be sized. */
  o.disk_bus = FERRY_DISK_BUS_VIRTIO;
  f.disks[1].capacity = 0;
  emit_fail (KUBEVIRT, &f.vm, &o, FERRY_E_INPUT, "size unknown");
  free (name);
}

static void
test_kubevirt_many_disks (void **state)
{
  (void) state;
  struct fx f;
  struct ydocs y;
  fx_many_disks (&f);
  char *s = emit_ok (KUBEVIRT, &f.vm, NULL);
  yaml_parse (s, &y);
  assert_int_equal (y.n, 14);
  assert_int_equal (y_len (&y.doc[0], "spec.template.spec.domain.devices.disks"), 13);
  assert_int_equal (y_len (&y.doc[0], "spec.template.spec.volumes"), 13);
  /* boot order first; sizes follow the disk order (scsi0-0 was 5 GiB) */
  y_eq (&y.doc[1], "spec.storage.resources.requests.storage", "5Gi");
  y_eq (&y.doc[1], "metadata|annotations|ferry.io/image-path", "/t/big-scsi0-0.raw");
  y_eq (&y.doc[13], "metadata|annotations|ferry.io/image-path", "/t/big-ide0-1.raw");
  yaml_free (&y);
  free (s);
}

static void
test_k8s_names (void **state)
{
  (void) state;
  char *a, *b;
  char longname[200];

  a = ferry_k8s_name ("web01", 63);
  assert_string_equal (a, "web01");
  free (a);
  a = ferry_k8s_name ("WEB01", 63);
  b = ferry_k8s_name ("web01 ", 63);
  /* changed names carry a hash of the original, so they differ */
  assert_int_equal (strncmp (a, "web01-", 6), 0);
  assert_int_equal (strncmp (b, "web01-", 6), 0);
  assert_string_not_equal (a, b);
  free (b);
  b = ferry_k8s_name ("WEB01", 63);
  assert_string_equal (a, b); /* stable */
  free (a);
  free (b);
  a = ferry_k8s_name ("--__--", 63);
  assert_int_equal (strncmp (a, "vm-", 3), 0);
  assert_int_equal (strlen (a), 11);
  free (a);
  a = ferry_k8s_name ("", 63);
  assert_int_equal (strncmp (a, "vm-", 3), 0);
  free (a);
  memset (longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  a = ferry_k8s_name (longname, 63);
  assert_int_equal (strlen (a), 63);
  assert_int_equal (strncmp (a, "xxxxx", 5), 0);
  assert_int_equal (a[54], '-');
  free (a);
  /* 63 characters exactly and valid: unchanged */
  memset (longname, 'y', 63);
  longname[63] = 0;
  a = ferry_k8s_name (longname, 63);
  assert_string_equal (a, longname);
  free (a);
  /* cut at a '-' boundary: no "--" or trailing '-' before the hash */
  a = ferry_k8s_name ("Abcdef-ghij", 16);
  assert_true (strlen (a) <= 16);
  assert_null (strstr (a, "--"));
  free (a);
  a = ferry_k8s_name ("My.VM_01 (prod)", 63);
  for (const char *p = a; *p; p++)
    assert_true ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-');
  assert_int_equal (strncmp (a, "my-vm-01-prod-", 14), 0);
  free (a);

  /* YAML: a name that looks like a number or boolean stays a string */
  struct fx f;
  struct ydocs y;
  fx_bios_linux (&f);
  f.vm.name = S ("12345");
  f.vm.guest_os = S ("yes");
  char *s = emit_ok (KUBEVIRT, &f.vm, NULL);
  yaml_parse (s, &y);
  y_eq (&y.doc[0], "metadata.name", "12345");
  y_is_plain (&y.doc[0], "metadata.name", false);
  y_is_plain (&y.doc[0], "metadata|annotations|ferry.io/guest-os", false);
  yaml_free (&y);
  free (s);
  write_all ("numeric-name", &f.vm, NULL);
}

static void
test_kubevirt_no_nics (void **state)
{
  (void) state;
  struct fx f;
  struct ydocs y;
  fx_bios_linux (&f);
  f.nics[0].present = false; /* the only NIC is absent */
  char *s = emit_ok (KUBEVIRT, &f.vm, NULL);
  yaml_parse (s, &y);
  y_eq (&y.doc[0], "spec.template.spec.domain.devices.autoattachPodInterface", "false");
  assert_null (ynode (&y.doc[0], "spec.template.spec.domain.devices.interfaces"));
  assert_null (ynode (&y.doc[0], "spec.template.spec.networks"));
  yaml_free (&y);
  free (s);
  s = emit_ok (LIBVIRT, &f.vm, NULL);
  struct xdoc x = xml_parse (s);
  XP_COUNT (&x, "/domain/devices/interface", 0);
  xml_free (&x);
  free (s);
  write_all ("no-nics", &f.vm, NULL);
}

/* ---- report ----------------------------------------------------------- */

static void
test_report (void **state)
{
  (void) state;
  struct fx f;
  struct ferry_findings fs = { 0 };
  const struct ferry_vm *vms[1];
  char *buf = NULL;
  size_t len = 0;
  FILE *out;

  fx_bios_linux (&f);
  vms[0] = &f.vm;
  assert_int_equal (ferry_preflight (vms, 1, NULL, &fs), 0);
  out = open_memstream (&buf, &len);
  assert_int_equal (ferry_emit_report (&f.vm, &fs, "{\"os\":\"linux\",\"distro\":\"rhel\"}", out), 0);
  fclose (out);
  json_object *j = json_tokener_parse (buf);
  assert_non_null (j);
  assert_string_equal (json_object_get_string (jpath (j, "ferry_version")), FERRY_VERSION);
  assert_string_equal (json_object_get_string (jpath (j, "name")), "web01");
  assert_string_equal (json_object_get_string (jpath (j, "source")), "/vms/web01/web01.vmx");
  assert_string_equal (json_object_get_string (jpath (j, "format")), "vmx");
  assert_string_equal (json_object_get_string (jpath (j, "vm.firmware")), "bios");
  assert_int_equal (json_object_get_int64 (jpath (j, "vm.memory_mib")), 4096);
  assert_int_equal (json_object_array_length (jpath (j, "disks")), 1);
  assert_string_equal (json_object_get_string (jpath (j, "disks.0.source_file")), "web01.vmdk");
  assert_string_equal (json_object_get_string (jpath (j, "disks.0.target_path")),
                       "/var/lib/ferry/web01-sda.raw");
  assert_string_equal (json_object_get_string (jpath (j, "disks.0.target_format")), "raw");
  assert_true (json_object_get_uint64 (jpath (j, "disks.0.virtual_size")) == 20 * GiB);
  assert_true (json_object_get_uint64 (jpath (j, "disks.0.bytes_copied")) == 3 * GiB);
  assert_string_equal (json_object_get_string (jpath (j, "disks.0.checksum")), "sha256-tree:00ff");
  assert_true (json_object_get_double (jpath (j, "disks.0.seconds")) == 12.5);
  assert_string_equal (json_object_get_string (jpath (j, "guest.distro")), "rhel");
  /* the parser's warning first, then the pre-flight findings */
  json_object *w = jpath (j, "warnings");
  assert_int_equal (json_object_array_length (w), 1 + fs.n);
  assert_string_equal (json_object_get_string (jpath (j, "warnings.0.code")), "source");
  assert_string_equal (json_object_get_string (jpath (j, "warnings.0.message")),
                       "ethernet1 has no networkName");
  bool serial = false;
  for (size_t i = 1; i < json_object_array_length (w); i++)
    {
      json_object *e = json_object_array_get_idx (w, i);
      json_object *c;
      assert_true (json_object_object_get_ex (e, "code", &c));
      serial |= strcmp (json_object_get_string (c), "serial-dropped") == 0;
    }
  assert_true (serial);
  assert_false (json_object_get_boolean (jpath (j, "critical")));
  json_object_put (j);
  free (buf);

  /* Not converted yet: nulls, not zeros; no findings; guest {} */
  f.disks[0].target_path = NULL;
  f.disks[0].checksum = NULL;
  buf = NULL;
  out = open_memstream (&buf, &len);
  assert_int_equal (ferry_emit_report (&f.vm, NULL, NULL, out), 0);
  fclose (out);
  j = json_tokener_parse (buf);
  assert_non_null (j);
  json_object *d0 = jpath (j, "disks.0");
  json_object *v;
  assert_true (json_object_object_get_ex (d0, "bytes_copied", &v) && v == NULL);
  assert_true (json_object_object_get_ex (d0, "checksum", &v) && v == NULL);
  assert_int_equal (json_object_object_length (jpath (j, "guest")), 0);
  json_object_put (j);
  free (buf);

  /* guest facts that are not an object */
  buf = NULL;
  out = open_memstream (&buf, &len);
  ferry_error_clear ();
  assert_int_equal (ferry_emit_report (&f.vm, NULL, "[1,2]", out), -1);
  assert_int_equal (ferry_error_code (), FERRY_E_INPUT);
  assert_int_equal (ferry_emit_report (&f.vm, NULL, "{bad", out), -1);
  fclose (out);
  free (buf);
  ferry_findings_free (&fs);

  /* a file that cannot be created */
  assert_int_equal (ferry_emit_report_file (&f.vm, NULL, NULL, "/nonexistent/dir/x.json"), -1);
  assert_int_equal (ferry_error_code (), FERRY_E_OUTPUT);
  assert_non_null (strstr (ferry_error_msg (), "/nonexistent/dir/x.json"));
}

/* ---- pre-flight ------------------------------------------------------- */

static void
test_preflight_clean (void **state)
{
  (void) state;
  struct fx f;
  struct ferry_findings fs = { 0 };
  const struct ferry_vm *vms[1] = { &f.vm };
  struct ferry_emit_opts o;
  const char *map[] = { "*=network:default", "*=pod" };

  fx_bios_linux (&f);
  f.vm.n_serials = 0;
  ferry_emit_opts_init (&o);
  o.network_map = map;
  o.n_network_map = 2;
  assert_int_equal (ferry_preflight (vms, 1, &o, &fs), 0);
  for (size_t i = 0; i < fs.n; i++)
    fail_msg ("unexpected finding %s: %s", fs.items[i].code, fs.items[i].message);
  ferry_findings_free (&fs);

  /* The same with no map: two network-unmapped warnings (libvirt and
   * KubeVirt), or one when only libvirt is targeted. */
  o.n_network_map = 0;
  assert_int_equal (ferry_preflight (vms, 1, &o, &fs), 0);
  assert_int_equal (ferry_findings_count (&fs, "network-unmapped"), 2);
  ferry_findings_free (&fs);
  o.targets = FERRY_TARGET_LIBVIRT;
  assert_int_equal (ferry_preflight (vms, 1, &o, &fs), 0);
  assert_int_equal (ferry_findings_count (&fs, "network-unmapped"), 1);
  assert_false (ferry_findings_critical (&fs));
  ferry_findings_free (&fs);
}

static void
test_preflight_problems (void **state)
{
  (void) state;
  struct fx f;
  struct ferry_findings fs = { 0 };
  const struct ferry_vm *vms[1] = { &f.vm };

  fx_many_disks (&f);
  f.vm.name = S ("Big DB");
  f.vm.has_snapshots = true;
  f.vm.usb_devices = 2;
  f.disks[2].rdm = true;           /* scsi1-0 */
  f.disks[3].shared = true;        /* scsi0-3 */
  f.disks[0].bus = FERRY_BUS_UNKNOWN;
  f.disks[1].path = S ("/nonexistent/ferry/sata0-2.vmdk");
  f.ctl[1].model = S ("buslogic"); /* scsi1: 4 disks on it */
  f.disks[f.vm.n_disks].kind = FERRY_DISK_FLOPPY;
  f.disks[f.vm.n_disks].present = true;
  f.vm.n_disks++;
  assert_int_equal (ferry_preflight (vms, 1, NULL, &fs), 0);
  assert_int_equal (ferry_findings_count (&fs, "dns-name"), 1);
  assert_int_equal (ferry_findings_count (&fs, "snapshots"), 1);
  assert_int_equal (ferry_findings_count (&fs, "usb-dropped"), 1);
  assert_int_equal (ferry_findings_count (&fs, "rdm-disk"), 1);
  assert_int_equal (ferry_findings_count (&fs, "shared-disk"), 1);
  assert_int_equal (ferry_findings_count (&fs, "independent-disk"), 1);
  assert_int_equal (ferry_findings_count (&fs, "absent-disk"), 1);
  assert_int_equal (ferry_findings_count (&fs, "floppy-dropped"), 1);
  assert_int_equal (ferry_findings_count (&fs, "missing-disk-file"), 1);
  /* ide0-1 on an unknown bus, 4 disks on the BusLogic controller */
  assert_int_equal (ferry_findings_count (&fs, "unsupported-bus"), 1 + 4);
  assert_true (ferry_findings_critical (&fs));
  for (size_t i = 0; i < fs.n; i++)
    {
      assert_string_equal (fs.items[i].vm, "Big DB");
      assert_non_null (fs.items[i].message);
      assert_null (strchr (fs.items[i].message, '\n'));
      bool crit = fs.items[i].severity == FERRY_SEV_CRITICAL;
      const char *c = fs.items[i].code;
      bool want_crit = !strcmp (c, "rdm-disk") || !strcmp (c, "shared-disk")
                       || !strcmp (c, "missing-disk-file");
      if (crit != want_crit)
        fail_msg ("%s: severity %d", c, (int) crit);
    }
  const char *msg = NULL;
  for (size_t i = 0; i < fs.n; i++)
    if (!strcmp (fs.items[i].code, "rdm-disk"))
      msg = fs.items[i].message;
  assert_non_null (strstr (msg, "scsi1:0"));
  ferry_findings_free (&fs);

  /* firmware */
  fx_win_sb (&f);
  f.vm.firmware = FERRY_FW_BIOS;
  struct ferry_emit_opts o;
  ferry_emit_opts_init (&o);
  o.targets = FERRY_TARGET_LIBVIRT;
  assert_int_equal (ferry_preflight (vms, 1, &o, &fs), 0);
  assert_int_equal (ferry_findings_count (&fs, "secure-boot-bios"), 1);
  assert_int_equal (ferry_findings_count (&fs, "vtpm-state"), 1);
  assert_int_equal (ferry_findings_count (&fs, "dns-name"), 0); /* libvirt only */
  assert_true (ferry_findings_critical (&fs));
  ferry_findings_free (&fs);
  f.vm.firmware = FERRY_FW_EFI;
  o.machine = FERRY_MACHINE_PC;
  assert_int_equal (ferry_preflight (vms, 1, &o, &fs), 0);
  assert_int_equal (ferry_findings_count (&fs, "secure-boot-machine-pc"), 1);
  ferry_findings_free (&fs);

  fx_winxp (&f);
  f.vm.firmware = FERRY_FW_EFI;
  f.vm.memory_mib = 0;
  f.vm.vcpus = 6;
  f.vm.cores_per_socket = 4;
  f.vm.n_disks = 0;
  assert_int_equal (ferry_preflight (vms, 1, NULL, &fs), 0);
  assert_int_equal (ferry_findings_count (&fs, "efi-old-guest"), 1);
  assert_int_equal (ferry_findings_count (&fs, "no-memory"), 1);
  assert_int_equal (ferry_findings_count (&fs, "cpu-topology"), 1);
  assert_int_equal (ferry_findings_count (&fs, "no-disks"), 1);
  ferry_findings_free (&fs);

  /* three NICs for KubeVirt with no map: two reuse the pod network;
   * a malformed map entry is reported once */
  fx_win_sb (&f);
  assert_int_equal (ferry_preflight (vms, 1, NULL, &fs), 0);
  assert_int_equal (ferry_findings_count (&fs, "pod-network-reused"), 2);
  ferry_findings_free (&fs);
  const char *bad[] = { "nonsense" };
  o.machine = FERRY_MACHINE_AUTO;
  o.targets = 0;
  o.network_map = bad;
  o.n_network_map = 1;
  assert_int_equal (ferry_preflight (vms, 1, &o, &fs), 0);
  assert_int_equal (ferry_findings_count (&fs, "bad-map"), 1);
  ferry_findings_free (&fs);
}

static void
test_preflight_mac_conflicts (void **state)
{
  (void) state;
  struct fx a, b, c;
  struct ferry_findings fs = { 0 };
  fx_bios_linux (&a);
  fx_win_sb (&b);
  fx_many_disks (&c);
  /* b's second NIC repeats a's (different case); c repeats itself */
  b.nics[1].mac = S ("00:50:56:AA:BB:01");
  add_nic (&c, "e1000", "00:50:56:00:00:aa", "VM Network");
  /* an absent NIC does not count */
  struct ferry_vm_nic *n = add_nic (&c, "e1000", "00:50:56:01:02:03", "x");
  n->present = false;
  const struct ferry_vm *vms[3] = { &a.vm, &b.vm, &c.vm };
  struct ferry_emit_opts o;
  ferry_emit_opts_init (&o);
  o.targets = FERRY_TARGET_LIBVIRT;
  assert_int_equal (ferry_preflight (vms, 3, &o, &fs), 0);
  assert_int_equal (ferry_findings_count (&fs, "mac-conflict"), 2);
  bool saw_ab = false, saw_cc = false;
  for (size_t i = 0; i < fs.n; i++)
    if (!strcmp (fs.items[i].code, "mac-conflict"))
      {
        assert_int_equal (fs.items[i].severity, FERRY_SEV_CRITICAL);
        if (!strcmp (fs.items[i].vm, "Win Server 2022 (DC)")
            && strstr (fs.items[i].message, "'web01'"))
          saw_ab = true;
        if (!strcmp (fs.items[i].vm, "bigdb") && strstr (fs.items[i].message, "'bigdb'"))
          saw_cc = true;
      }
  assert_true (saw_ab);
  assert_true (saw_cc);
  ferry_findings_free (&fs);
  /* One VM alone has no conflict with the others. */
  assert_int_equal (ferry_preflight (vms, 1, &o, &fs), 0);
  assert_int_equal (ferry_findings_count (&fs, "mac-conflict"), 0);
  ferry_findings_free (&fs);
}

static void
test_maps (void **state)
{
  (void) state;
  struct ferry_emit_opts o;
  struct ferry_net_target t;
  const char *map[] = { "*=bridge:br9", "A=B=network:weird", "VM Network=pod",
                        "VM Network=network:lan" };
  ferry_emit_opts_init (&o);
  o.network_map = map;
  o.n_network_map = 4;
  /* exact beats "*", even when "*" comes first */
  assert_int_equal (ferry_network_lookup (&o, "VM Network", false, &t), 0);
  assert_int_equal (t.kind, FERRY_NET_NETWORK);
  assert_string_equal (t.name, "lan");
  assert_true (t.mapped);
  assert_int_equal (ferry_network_lookup (&o, "other", false, &t), 0);
  assert_int_equal (t.kind, FERRY_NET_BRIDGE);
  assert_string_equal (t.name, "br9");
  assert_int_equal (ferry_network_lookup (&o, NULL, false, &t), 0);
  assert_string_equal (t.name, "br9");
  /* a source name holding '=' */
  assert_int_equal (ferry_network_lookup (&o, "A=B", false, &t), 0);
  assert_string_equal (t.name, "weird");
  /* KubeVirt side: only pod/multus entries count */
  assert_int_equal (ferry_network_lookup (&o, "VM Network", true, &t), 0);
  assert_int_equal (t.kind, FERRY_NET_POD);
  assert_true (t.mapped);
  assert_int_equal (ferry_network_lookup (&o, "other", true, &t), 0);
  assert_int_equal (t.kind, FERRY_NET_POD);
  assert_false (t.mapped);

  const char *bad[] = { "x=multus:NS/Name" };
  o.network_map = bad;
  o.n_network_map = 1;
  assert_int_equal (ferry_network_lookup (&o, "x", true, &t), -1);
  assert_int_equal (ferry_error_code (), FERRY_E_USAGE);

  struct ferry_vm_disk d;
  char buf[64];
  const char *stor[] = { "disk2.vmdk=local", "ds1=fast" };
  memset (&d, 0, sizeof d);
  o.storage_map = stor;
  o.n_storage_map = 2;
  d.file = S ("[ds1] vm/disk.vmdk");
  assert_int_equal (ferry_storage_lookup (&o, &d, buf, sizeof buf), 1);
  assert_string_equal (buf, "fast");
  d.file = S ("disk2.vmdk");
  assert_int_equal (ferry_storage_lookup (&o, &d, buf, sizeof buf), 1);
  assert_string_equal (buf, "local");
  d.file = S ("[ds2] vm/disk.vmdk");
  assert_int_equal (ferry_storage_lookup (&o, &d, buf, sizeof buf), 0);
  d.file = NULL;
  assert_int_equal (ferry_storage_lookup (&o, &d, buf, sizeof buf), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_libvirt_bios_linux),
    cmocka_unit_test (test_libvirt_win_secure_boot),
    cmocka_unit_test (test_libvirt_many_disks),
    cmocka_unit_test (test_libvirt_machine),
    cmocka_unit_test (test_libvirt_errors),
    cmocka_unit_test (test_kubevirt_bios_linux),
    cmocka_unit_test (test_kubevirt_win_secure_boot),
    cmocka_unit_test (test_kubevirt_many_disks),
    cmocka_unit_test (test_kubevirt_no_nics),
    cmocka_unit_test (test_k8s_names),
    cmocka_unit_test (test_report),
    cmocka_unit_test (test_preflight_clean),
    cmocka_unit_test (test_preflight_problems),
    cmocka_unit_test (test_preflight_mac_conflicts),
    cmocka_unit_test (test_maps),
  };
  return cmocka_run_group_tests (tests, setup_outdir, teardown_outdir);
}
