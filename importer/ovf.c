/* ferry: the OVF descriptor reader (libxml2).
 *
 * An OVF descriptor is an <Envelope> holding <References> (the files of
 * the package), a <DiskSection> (virtual disks: capacity and the file that
 * backs each) and one <VirtualSystem> whose <VirtualHardwareSection> lists
 * the hardware as CIM resource allocation <Item>s, told apart by
 * rasd:ResourceType (3 CPU, 4 memory, 5 IDE, 6 SCSI, 10 NIC, 14 floppy,
 * 15/16 CD/DVD, 17 disk, 20 other storage (SATA, NVMe), 21 serial,
 * 23 USB).  Disks point at the DiskSection ("ovf:/disk/vmdisk1") and at
 * their controller (rasd:Parent = the controller's InstanceID).  VMware
 * adds vmw:Config / vmw:ExtraConfig key/value pairs (firmware, secure
 * boot, nested virtualisation); VirtualBox adds a vbox:Machine section in
 * its own format, from which the firmware, UUID and MAC addresses are
 * taken when the OVF part does not say.
 *
 * Elements are matched by namespace URI and local name, never by prefix.
 * The parser never touches the network and refuses any document type
 * declaration: an OVF descriptor has no use for one, and refusing it is
 * what makes entity expansion attacks ("billion laughs") and external
 * entities (SYSTEM "file:///etc/passwd") impossible, whatever libxml2's
 * own limits are.
 */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "common/error.h"
#include "importer/vm.h"

#define NS_OVF1 "http://schemas.dmtf.org/ovf/envelope/1"
#define NS_OVF2 "http://schemas.dmtf.org/ovf/envelope/2"
#define NS_CIM "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
#define NS_VMW "http://www.vmware.com/schema/ovf"
#define NS_VBOX "http://www.virtualbox.org/ovf/machine"

#define OVF_MAX_MEMORY_MIB (UINT64_C (16) * 1024 * 1024) /* 16 TiB */
#define OVF_MAX_VCPUS 4096
#define OVF_MAX_UNIT 63

enum rt {
  RT_CPU = 3, RT_MEMORY = 4, RT_IDE = 5, RT_SCSI = 6, RT_NIC = 10,
  RT_FLOPPY = 14, RT_CD = 15, RT_DVD = 16, RT_DISK = 17, RT_OTHER_STORAGE = 20,
  RT_SERIAL = 21, RT_USB = 23,
};

struct ovf_file {
  xmlNodePtr node;
  char *id, *href;
};

struct ovf_disk {
  xmlNodePtr node;
  char *id, *file_ref;
  uint64_t capacity;
};

struct ovf_ctl {
  char *instance_id;
  enum ferry_bus bus;
  unsigned index;
  unsigned next_unit;
};

struct ovf {
  const char *name;
  const char *dir;
  struct ferry_vm *vm;
  xmlNodePtr vs;          /* VirtualSystem */
  xmlNodePtr vbox;        /* vbox:Machine, if any */
  struct ovf_file *files;
  size_t n_files;
  struct ovf_disk *disks;
  size_t n_disks;
  struct ovf_ctl *ctls;
  size_t n_ctls;
  bool fw_set, mac_from_vbox;
  bool collection;        /* vs was chosen from a VirtualSystemCollection */
};

/* ---- small helpers ------------------------------------------------------ */

static int
oom (void)
{
  return ferry_error (FERRY_E_SYSTEM, "out of memory");
}

static int
node_err (const struct ovf *o, xmlNodePtr n, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

static int
node_err (const struct ovf *o, xmlNodePtr n, const char *fmt, ...)
{
  char msg[700];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return ferry_error (FERRY_E_INPUT, "%s: line %ld: <%s>: %s", o->name,
                      xmlGetLineNo (n), (const char *) n->name, msg);
}

static bool
ns_is (xmlNodePtr n, const char *uri)
{
  return n->ns && n->ns->href && strcmp ((const char *) n->ns->href, uri) == 0;
}

static bool
ns_ovf (xmlNodePtr n)
{
  return ns_is (n, NS_OVF1) || ns_is (n, NS_OVF2);
}

static bool
ns_cim (xmlNodePtr n)
{
  return n->ns && n->ns->href
    && strncmp ((const char *) n->ns->href, NS_CIM, strlen (NS_CIM)) == 0;
}

static bool
is_elem (xmlNodePtr n, const char *local)
{
  return n->type == XML_ELEMENT_NODE
    && strcmp ((const char *) n->name, local) == 0;
}

static bool
is_ovf (xmlNodePtr n, const char *local)
{
  return is_elem (n, local) && ns_ovf (n);
}

/* The first child element in the OVF namespace called local. */
static xmlNodePtr
child_ovf (xmlNodePtr parent, const char *local)
{
  for (xmlNodePtr c = parent->children; c; c = c->next)
    if (is_ovf (c, local))
      return c;
  return NULL;
}

/* An attribute in the OVF namespace (ovf:href), or unqualified (some
 * exporters), as a malloc'd string; NULL if absent. */
static char *
attr_ovf (xmlNodePtr n, const char *local)
{
  xmlChar *v = xmlGetNsProp (n, BAD_CAST local, BAD_CAST NS_OVF1);
  if (!v)
    v = xmlGetNsProp (n, BAD_CAST local, BAD_CAST NS_OVF2);
  if (!v)
    v = xmlGetNoNsProp (n, BAD_CAST local);
  if (!v)
    return NULL;
  char *s = strdup ((const char *) v);
  xmlFree (v);
  return s;
}

static char *
attr_ns (xmlNodePtr n, const char *local, const char *ns)
{
  xmlChar *v = ns ? xmlGetNsProp (n, BAD_CAST local, BAD_CAST ns)
                  : xmlGetNoNsProp (n, BAD_CAST local);
  if (!v)
    return NULL;
  char *s = strdup ((const char *) v);
  xmlFree (v);
  return s;
}

/* The text of an element, whitespace trimmed, malloc'd. */
static char *
text_of (xmlNodePtr n)
{
  xmlChar *v = xmlNodeGetContent (n);
  const char *s, *e;
  char *r;

  if (!v)
    return strdup ("");
  s = (const char *) v;
  while (isspace ((unsigned char) *s))
    s++;
  e = s + strlen (s);
  while (e > s && isspace ((unsigned char) e[-1]))
    e--;
  r = strndup (s, (size_t) (e - s));
  xmlFree (v);
  return r;
}

static int
parse_u64 (const char *s, uint64_t *out)
{
  uint64_t x = 0;

  if (!s || !isdigit ((unsigned char) *s))
    return -1;
  for (; isdigit ((unsigned char) *s); s++) {
    if (x > (UINT64_MAX - 9) / 10)
      return -2;
    x = x * 10 + (uint64_t) (*s - '0');
  }
  if (*s)
    return -1;
  *out = x;
  return 0;
}

static int
parse_bool (const char *s, bool *out)
{
  if (strcasecmp (s, "true") == 0 || strcmp (s, "1") == 0) {
    *out = true;
    return 0;
  }
  if (strcasecmp (s, "false") == 0 || strcmp (s, "0") == 0) {
    *out = false;
    return 0;
  }
  return -1;
}

static bool
mul_ok (uint64_t a, uint64_t b, uint64_t *out)
{
  if (b && a > UINT64_MAX / b)
    return false;
  *out = a * b;
  return true;
}

/* DSP0004 programmatic units ("byte", "byte * 2^30", "byte * 1024") and the
 * names exporters use ("MegaBytes", "GB", "KiB").  The multiplier to bytes
 * in *mult; -1 if the text is not a unit of bytes ferry understands. */
static int
parse_units (const char *u, uint64_t *mult)
{
  const char *p = u;
  uint64_t m;
  static const struct { const char *name; uint64_t m; } names[] = {
    { "bytes", 1 }, { "byte", 1 }, { "b", 1 },
    { "kilobytes", UINT64_C (1) << 10 }, { "kb", UINT64_C (1) << 10 },
    { "kib", UINT64_C (1) << 10 },
    { "megabytes", UINT64_C (1) << 20 }, { "mb", UINT64_C (1) << 20 },
    { "mib", UINT64_C (1) << 20 },
    { "gigabytes", UINT64_C (1) << 30 }, { "gb", UINT64_C (1) << 30 },
    { "gib", UINT64_C (1) << 30 },
    { "terabytes", UINT64_C (1) << 40 }, { "tb", UINT64_C (1) << 40 },
    { "tib", UINT64_C (1) << 40 },
  };

  while (isspace ((unsigned char) *p))
    p++;
  m = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    size_t n = strlen (names[i].name);
    if (strncasecmp (p, names[i].name, n) == 0
        && !isalpha ((unsigned char) p[n])) {
      m = names[i].m;
      p += n;
      break;
    }
  }
  if (!m)
    return -1;
  for (;;) {
    uint64_t base, exp = 1, f = 1;
    while (isspace ((unsigned char) *p))
      p++;
    if (!*p)
      break;
    if (*p != '*')
      return -1;
    p++;
    while (isspace ((unsigned char) *p))
      p++;
    if (!isdigit ((unsigned char) *p))
      return -1;
    for (base = 0; isdigit ((unsigned char) *p); p++) {
      base = base * 10 + (uint64_t) (*p - '0');
      if (base > (UINT64_C (1) << 40))
        return -1;
    }
    if (*p == '^') {
      p++;
      if (!isdigit ((unsigned char) *p))
        return -1;
      for (exp = 0; isdigit ((unsigned char) *p); p++) {
        exp = exp * 10 + (uint64_t) (*p - '0');
        if (exp > 64)
          return -1;
      }
    }
    for (uint64_t i = 0; i < exp; i++)
      if (!mul_ok (f, base, &f))
        return -1;
    if (f == 0 || !mul_ok (m, f, &m))
      return -1;
  }
  *mult = m;
  return 0;
}

static int
warn (struct ferry_vm *vm, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static int
warn (struct ferry_vm *vm, const char *fmt, ...)
{
  va_list ap;
  char *msg;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r < 0)
    return oom ();
  r = ferry_vm_warn (vm, "%s", msg);
  free (msg);
  return r < 0 ? oom () : 0;
}

static void
ovf_free (struct ovf *o)
{
  for (size_t i = 0; i < o->n_files; i++) {
    free (o->files[i].id);
    free (o->files[i].href);
  }
  free (o->files);
  for (size_t i = 0; i < o->n_disks; i++) {
    free (o->disks[i].id);
    free (o->disks[i].file_ref);
  }
  free (o->disks);
  for (size_t i = 0; i < o->n_ctls; i++)
    free (o->ctls[i].instance_id);
  free (o->ctls);
}

static size_t
count_children (xmlNodePtr parent)
{
  size_t n = 0;
  for (xmlNodePtr c = parent->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE)
      n++;
  return n;
}

/* ---- References and DiskSection ---------------------------------------- */

/* An href must name a file next to the descriptor. */
static int
check_href (const struct ovf *o, xmlNodePtr n, const char *href)
{
  const char *why = NULL;

  if (!*href)
    why = "it is empty";
  else if (href[0] == '/' || href[0] == '\\'
           || (isalpha ((unsigned char) href[0]) && href[1] == ':'))
    why = "it is an absolute path";
  else if (strstr (href, "://") || strncasecmp (href, "file:", 5) == 0)
    why = "it is a URL";
  else {
    const char *p = href;
    while (*p) {
      size_t len = strcspn (p, "/\\");
      if (len == 2 && p[0] == '.' && p[1] == '.')
        why = "it contains '..'";
      p += len;
      if (*p)
        p++;
    }
  }
  if (why)
    return node_err (o, n, "href \"%.200s\" refused: %s (disk files must be "
                     "next to the descriptor)", href, why);
  return 0;
}

static int
read_references (struct ovf *o, xmlNodePtr env)
{
  xmlNodePtr refs = child_ovf (env, "References");

  if (!refs)
    return 0;
  o->files = calloc (count_children (refs) + 1, sizeof *o->files);
  if (!o->files)
    return oom ();
  for (xmlNodePtr c = refs->children; c; c = c->next) {
    if (!is_ovf (c, "File"))
      continue;
    struct ovf_file *f = &o->files[o->n_files++];
    f->node = c;
    f->id = attr_ovf (c, "id");
    f->href = attr_ovf (c, "href");
    if (!f->id)
      return node_err (o, c, "File without ovf:id");
    if (!f->href)
      return node_err (o, c, "File ovf:id=\"%.100s\" without ovf:href", f->id);
    if (check_href (o, c, f->href) < 0)
      return -1;
    for (size_t i = 0; i + 1 < o->n_files; i++)
      if (strcmp (o->files[i].id, f->id) == 0)
        return node_err (o, c, "File ovf:id=\"%.100s\" is defined twice "
                         "(also on line %ld)", f->id,
                         xmlGetLineNo (o->files[i].node));
  }
  return 0;
}

static struct ovf_file *
find_file (struct ovf *o, const char *id)
{
  for (size_t i = 0; i < o->n_files; i++)
    if (strcmp (o->files[i].id, id) == 0)
      return &o->files[i];
  return NULL;
}

static int
read_disk_section (struct ovf *o, xmlNodePtr env)
{
  xmlNodePtr ds = child_ovf (env, "DiskSection");

  if (!ds)
    return 0;
  o->disks = calloc (count_children (ds) + 1, sizeof *o->disks);
  if (!o->disks)
    return oom ();
  for (xmlNodePtr c = ds->children; c; c = c->next) {
    if (!is_ovf (c, "Disk"))
      continue;
    struct ovf_disk *d = &o->disks[o->n_disks++];
    char *cap = attr_ovf (c, "capacity");
    char *units = attr_ovf (c, "capacityAllocationUnits");
    uint64_t n, mult = 1;
    int r = 0;

    d->node = c;
    d->id = attr_ovf (c, "diskId");
    d->file_ref = attr_ovf (c, "fileRef");
    if (!d->id)
      r = node_err (o, c, "Disk without ovf:diskId");
    else if (!cap)
      r = node_err (o, c, "Disk \"%.100s\" without ovf:capacity", d->id);
    else if (parse_u64 (cap, &n) < 0)
      r = node_err (o, c, "Disk \"%.100s\": ovf:capacity \"%.64s\" is not "
                    "a number", d->id, cap);
    else if (units && parse_units (units, &mult) < 0)
      r = node_err (o, c, "Disk \"%.100s\": ovf:capacityAllocationUnits "
                    "\"%.64s\" is not a unit of bytes (expected e.g. "
                    "\"byte * 2^30\")", d->id, units);
    else if (!mul_ok (n, mult, &d->capacity))
      r = node_err (o, c, "Disk \"%.100s\": capacity %s × %" PRIu64
                    " bytes does not fit in 64 bits", d->id, cap, mult);
    else if (d->file_ref && !find_file (o, d->file_ref))
      r = node_err (o, c, "Disk \"%.100s\": ovf:fileRef \"%.100s\" names no "
                    "File in References", d->id, d->file_ref);
    free (cap);
    free (units);
    if (r < 0)
      return -1;
    for (size_t i = 0; i + 1 < o->n_disks; i++)
      if (strcmp (o->disks[i].id, d->id) == 0)
        return node_err (o, c, "Disk ovf:diskId=\"%.100s\" is defined twice "
                         "(also on line %ld)", d->id,
                         xmlGetLineNo (o->disks[i].node));
  }
  return 0;
}

/* ---- Items ---------------------------------------------------------------- */

struct item {
  xmlNodePtr node;
  char *instance_id, *resource_type, *subtype, *quantity, *units, *parent,
    *address_on_parent, *address, *connection, *element_name, *auto_alloc,
    *host_resource, *cores_per_socket;
  char *disk_mode, *sharing, *address_type; /* vmw:Config inside the item */
  unsigned type;
};

static void
item_free (struct item *it)
{
  free (it->instance_id);
  free (it->resource_type);
  free (it->subtype);
  free (it->quantity);
  free (it->units);
  free (it->parent);
  free (it->address_on_parent);
  free (it->address);
  free (it->connection);
  free (it->element_name);
  free (it->auto_alloc);
  free (it->host_resource);
  free (it->cores_per_socket);
  free (it->disk_mode);
  free (it->sharing);
  free (it->address_type);
}

static int
set_once (char **slot, xmlNodePtr c)
{
  if (*slot)
    return 0; /* first wins (HostResource may repeat; we use the first) */
  *slot = text_of (c);
  return *slot ? 0 : oom ();
}

/* "CD/DVD drive 1 (InstanceID 7)" for messages. */
static const char *
item_label (const struct item *it, char *buf, size_t n)
{
  snprintf (buf, n, "Item InstanceID %.40s%s%.60s%s",
            it->instance_id ? it->instance_id : "(none)",
            it->element_name ? " (" : "",
            it->element_name ? it->element_name : "",
            it->element_name ? ")" : "");
  return buf;
}

static int
item_read (struct ovf *o, xmlNodePtr n, struct item *it)
{
  uint64_t t;
  char lab[160];

  memset (it, 0, sizeof *it);
  it->node = n;
  for (xmlNodePtr c = n->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    const char *l = (const char *) c->name;
    char **slot = NULL;
    if (ns_cim (c)) {
      if (!strcmp (l, "InstanceID")) slot = &it->instance_id;
      else if (!strcmp (l, "ResourceType")) slot = &it->resource_type;
      else if (!strcmp (l, "ResourceSubType")) slot = &it->subtype;
      else if (!strcmp (l, "VirtualQuantity")) slot = &it->quantity;
      else if (!strcmp (l, "AllocationUnits")) slot = &it->units;
      else if (!strcmp (l, "Parent")) slot = &it->parent;
      else if (!strcmp (l, "AddressOnParent")) slot = &it->address_on_parent;
      else if (!strcmp (l, "Address")) slot = &it->address;
      else if (!strcmp (l, "Connection")) slot = &it->connection;
      else if (!strcmp (l, "ElementName")) slot = &it->element_name;
      else if (!strcmp (l, "AutomaticAllocation")) slot = &it->auto_alloc;
      else if (!strcmp (l, "HostResource")) slot = &it->host_resource;
      if (slot && set_once (slot, c) < 0)
        return -1;
    }
    else if (ns_is (c, NS_VMW)) {
      if (!strcmp (l, "CoresPerSocket")) {
        if (set_once (&it->cores_per_socket, c) < 0)
          return -1;
      }
      else if (!strcmp (l, "Config")) {
        char *k = attr_ns (c, "key", NS_VMW), *v = attr_ns (c, "value", NS_VMW);
        if (k && v) {
          if (!strcmp (k, "backing.diskMode") && !it->disk_mode)
            it->disk_mode = v, v = NULL;
          else if (!strcmp (k, "backing.sharing") && !it->sharing)
            it->sharing = v, v = NULL;
          else if (!strcmp (k, "addressType") && !it->address_type)
            it->address_type = v, v = NULL;
        }
        free (k);
        free (v);
      }
    }
  }
  if (!it->resource_type)
    return node_err (o, n, "%s has no rasd:ResourceType",
                     item_label (it, lab, sizeof lab));
  if (parse_u64 (it->resource_type, &t) < 0 || t > 65535)
    return node_err (o, n, "%s: rasd:ResourceType \"%.40s\" is not a number",
                     item_label (it, lab, sizeof lab), it->resource_type);
  it->type = (unsigned) t;
  return 0;
}

/* ---- controllers ---------------------------------------------------------- */

static int
add_controller (struct ovf *o, const struct item *it, enum ferry_bus bus,
                const char *model)
{
  struct ferry_vm *vm = o->vm;
  char lab[160];
  uint64_t a;
  unsigned idx = 0;
  bool used;

  if (!it->instance_id)
    return node_err (o, it->node, "controller %s has no rasd:InstanceID",
                     item_label (it, lab, sizeof lab));
  for (size_t i = 0; i < o->n_ctls; i++)
    if (strcmp (o->ctls[i].instance_id, it->instance_id) == 0)
      return node_err (o, it->node, "%s: the InstanceID is used twice",
                       item_label (it, lab, sizeof lab));
  /* The bus number VMware writes as rasd:Address, else the next free. */
  if (it->address && parse_u64 (it->address, &a) == 0 && a < 100)
    idx = (unsigned) a;
  do {
    used = false;
    for (size_t i = 0; i < o->n_ctls; i++)
      if (o->ctls[i].bus == bus && o->ctls[i].index == idx) {
        used = true;
        idx++;
        break;
      }
  } while (used);

  struct ovf_ctl *oc = &o->ctls[o->n_ctls++];
  oc->instance_id = strdup (it->instance_id);
  oc->bus = bus;
  oc->index = idx;
  struct ferry_vm_controller *mc = &vm->controllers[vm->n_controllers++];
  mc->bus = bus;
  mc->index = idx;
  mc->present = true;
  mc->model = strdup (model);
  if (!oc->instance_id || !mc->model)
    return oom ();
  for (char *p = mc->model; *p; p++)
    *p = (char) tolower ((unsigned char) *p);
  return 0;
}

/* SCSI subtypes as VMware names them in .vmx. */
static const char *
scsi_model (const char *sub)
{
  if (!sub || !*sub)
    return "lsilogic";
  if (!strcasecmp (sub, "VirtualSCSI") || !strcasecmp (sub, "pvscsi"))
    return "pvscsi";
  if (!strcasecmp (sub, "lsilogicsas") || !strcasecmp (sub, "lsisas1068"))
    return "lsisas1068";
  if (!strcasecmp (sub, "lsilogic"))
    return "lsilogic";
  if (!strcasecmp (sub, "buslogic"))
    return "buslogic";
  return NULL;
}

static int
controller_item (struct ovf *o, const struct item *it)
{
  char lab[160], *sub = it->subtype;
  int r;

  switch (it->type) {
  case RT_IDE:
    return add_controller (o, it, FERRY_BUS_IDE,
                           sub && *sub ? sub : "piix4");
  case RT_SCSI: {
    const char *m = scsi_model (sub);
    if (m)
      return add_controller (o, it, FERRY_BUS_SCSI, m);
    /* Unknown adapter: keep its name (lower case). */
    r = add_controller (o, it, FERRY_BUS_SCSI, sub);
    if (r == 0 && warn (o->vm, "%s: unknown SCSI controller type \"%s\"",
                        item_label (it, lab, sizeof lab), sub) < 0)
      return -1;
    return r;
  }
  case RT_OTHER_STORAGE:
    if (sub && strcasestr (sub, "nvme"))
      return add_controller (o, it, FERRY_BUS_NVME, "nvme");
    if (!sub || strcasestr (sub, "ahci") || strcasestr (sub, "sata"))
      return add_controller (o, it, FERRY_BUS_SATA, "ahci");
    return node_err (o, it->node, "%s: unknown storage controller type "
                     "\"%.60s\" (expected SATA/AHCI or NVMe)",
                     item_label (it, lab, sizeof lab), sub);
  default:
    return 0;
  }
}

static const struct ovf_ctl *
find_ctl (const struct ovf *o, const char *instance_id)
{
  for (size_t i = 0; i < o->n_ctls; i++)
    if (strcmp (o->ctls[i].instance_id, instance_id) == 0)
      return &o->ctls[i];
  return NULL;
}

/* ---- disks, CD-ROMs, floppies ---------------------------------------- */

static char *
resolve (const char *dir, const char *href)
{
  char *p;
  size_t dl;

  if (!dir)
    return NULL;
  dl = strlen (dir);
  if (asprintf (&p, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/",
                href) < 0)
    return NULL;
  return p;
}

static int
disk_item (struct ovf *o, const struct item *it)
{
  struct ferry_vm *vm = o->vm;
  /* Counted at once, so an error below leaves nothing unfreed. */
  struct ferry_vm_disk *md = &vm->disks[vm->n_disks++];
  struct ovf_ctl *oc = NULL;
  char lab[160];
  uint64_t u;

  item_label (it, lab, sizeof lab);
  md->kind = it->type == RT_DISK ? FERRY_DISK_DISK
           : it->type == RT_FLOPPY ? FERRY_DISK_FLOPPY : FERRY_DISK_CDROM;
  md->present = true;

  if (it->parent) {
    oc = (struct ovf_ctl *) find_ctl (o, it->parent);
    if (!oc)
      return node_err (o, it->node, "%s: rasd:Parent \"%.40s\" is not the "
                       "InstanceID of a disk controller", lab, it->parent);
    md->bus = oc->bus;
    md->controller = oc->index;
  }
  else if (md->kind == FERRY_DISK_DISK)
    return node_err (o, it->node, "%s: disk without rasd:Parent "
                     "(its controller)", lab);

  if (it->address_on_parent) {
    if (parse_u64 (it->address_on_parent, &u) < 0 || u > OVF_MAX_UNIT)
      return node_err (o, it->node, "%s: rasd:AddressOnParent \"%.40s\" is "
                       "not a unit number (0-%d)", lab,
                       it->address_on_parent, OVF_MAX_UNIT);
    md->unit = (unsigned) u;
    if (oc && md->unit >= oc->next_unit)
      oc->next_unit = md->unit + 1;
  }
  else if (oc)
    md->unit = oc->next_unit++;

  const char *hr = it->host_resource;
  if (hr && *hr) {
    const char *id = NULL;
    const struct ovf_file *f = NULL;
    if (!strncmp (hr, "ovf:/disk/", 10)) id = hr + 10;
    else if (!strncmp (hr, "/disk/", 6)) id = hr + 6;
    if (id) {
      const struct ovf_disk *d = NULL;
      for (size_t i = 0; i < o->n_disks; i++)
        if (!strcmp (o->disks[i].id, id))
          d = &o->disks[i];
      if (!d)
        return node_err (o, it->node, "%s: rasd:HostResource \"%.100s\" "
                         "names no Disk in the DiskSection", lab, hr);
      md->capacity = d->capacity;
      if (!(md->id = strdup (d->id)))
        return oom ();
      if (d->file_ref)
        f = find_file (o, d->file_ref);
    }
    else if (!strncmp (hr, "ovf:/file/", 10) || !strncmp (hr, "/file/", 6)) {
      const char *fid = hr + (hr[0] == 'o' ? 10 : 6);
      f = find_file (o, fid);
      if (!f)
        return node_err (o, it->node, "%s: rasd:HostResource \"%.100s\" "
                         "names no File in References", lab, hr);
    }
    else if (md->kind == FERRY_DISK_DISK)
      return node_err (o, it->node, "%s: rasd:HostResource \"%.100s\": "
                       "expected ovf:/disk/ID", lab, hr);
    if (f) {
      md->file = strdup (f->href);
      if (!md->file)
        return oom ();
      md->path = resolve (o->dir, f->href);
      if (!md->path && o->dir)
        return oom ();
    }
  }
  else if (md->kind == FERRY_DISK_DISK)
    return node_err (o, it->node, "%s: disk without rasd:HostResource", lab);

  if (it->disk_mode) {
    if (!(md->mode = strdup (it->disk_mode)))
      return oom ();
    for (char *p = md->mode; *p; p++)
      if (*p == '_')
        *p = '-';
    md->independent = strncasecmp (md->mode, "independent", 11) == 0;
  }
  if (it->sharing && strcasestr (it->sharing, "multiwriter"))
    md->shared = true;

  if (md->kind != FERRY_DISK_DISK)
    return 0;
  const char *bp = md->bus == FERRY_BUS_SCSI ? "scsi"
                 : md->bus == FERRY_BUS_SATA ? "sata"
                 : md->bus == FERRY_BUS_IDE ? "ide" : "nvme";
  if (md->independent
      && warn (vm, "disk %s%u:%u (%s) is %s: independent disks are not part "
               "of snapshots, so a warm migration cannot track them", bp,
               md->controller, md->unit, md->id, md->mode) < 0)
    return -1;
  if (md->shared
      && warn (vm, "disk %s%u:%u (%s) is shared (multi-writer) with other "
               "VMs", bp, md->controller, md->unit, md->id) < 0)
    return -1;
  if (!md->file
      && warn (vm, "disk %s%u:%u (%s) has no file in the package: it is an "
               "empty disk of %" PRIu64 " bytes", bp, md->controller,
               md->unit, md->id, md->capacity) < 0)
    return -1;
  return 0;
}

/* ---- MAC addresses -------------------------------------------------------- */

/* "00:50:56:ab:cd:ef", "00-50-56-AB-CD-EF" or "005056ABCDEF" -> lower
 * case with colons; NULL if it is none of those. */
static char *
mac_normalise (const char *s)
{
  char hex[12], *m;
  size_t n = 0, len = strlen (s);

  if (len == 12) {
    for (size_t i = 0; i < 12; i++) {
      if (!isxdigit ((unsigned char) s[i]))
        return NULL;
      hex[n++] = (char) tolower ((unsigned char) s[i]);
    }
  }
  else if (len == 17) {
    for (size_t i = 0; i < 17; i++) {
      if (i % 3 == 2) {
        if (s[i] != ':' && s[i] != '-')
          return NULL;
      }
      else if (!isxdigit ((unsigned char) s[i]))
        return NULL;
      else
        hex[n++] = (char) tolower ((unsigned char) s[i]);
    }
  }
  else
    return NULL;
  if (asprintf (&m, "%.2s:%.2s:%.2s:%.2s:%.2s:%.2s", hex, hex + 2, hex + 4,
                hex + 6, hex + 8, hex + 10) < 0)
    return NULL;
  return m;
}

static int
nic_item (struct ovf *o, const struct item *it)
{
  struct ferry_vm *vm = o->vm;
  struct ferry_vm_nic *mn = &vm->nics[vm->n_nics++];
  const char *sub = it->subtype;
  char lab[160];

  mn->present = true;
  mn->start_connected = true;
  if (it->auto_alloc && parse_bool (it->auto_alloc, &mn->start_connected) < 0)
    return node_err (o, it->node, "%s: rasd:AutomaticAllocation \"%.40s\" is "
                     "not true or false",
                     item_label (it, lab, sizeof lab), it->auto_alloc);
  if (sub && *sub) {
    if (!strcasecmp (sub, "PCNet32"))
      mn->model = strdup ("vlance");
    else {
      mn->model = strdup (sub);
      if (mn->model)
        for (char *p = mn->model; *p; p++)
          *p = (char) tolower ((unsigned char) *p);
    }
    if (!mn->model)
      return oom ();
  }
  if (it->connection && *it->connection
      && !(mn->network = strdup (it->connection)))
    return oom ();
  if (it->address && *it->address) {
    mn->mac = mac_normalise (it->address);
    if (!mn->mac)
      return node_err (o, it->node, "%s: rasd:Address \"%.40s\" is not a "
                       "MAC address", item_label (it, lab, sizeof lab),
                       it->address);
  }
  if (it->address_type && !strcasecmp (it->address_type, "manual"))
    mn->mac_static = true;
  return 0;
}

/* ---- vmw:Config / vmw:ExtraConfig --------------------------------------- */

static int
config_bool (struct ovf *o, xmlNodePtr c, const char *k, const char *v,
             bool *out)
{
  if (parse_bool (v, out) < 0)
    return node_err (o, c, "key \"%s\": expected true or false, not \"%.40s\"",
                     k, v);
  return 0;
}

/* 0, -1 not a UUID (no error set), -2 out of memory (error set). */
static int
normalise_uuid (const char *s, char **out)
{
  char hex[33];
  size_t n = 0;

  for (; *s; s++) {
    if (*s == ' ' || *s == '-' || *s == '{' || *s == '}')
      continue;
    if (!isxdigit ((unsigned char) *s) || n == 32)
      return -1;
    hex[n++] = (char) tolower ((unsigned char) *s);
  }
  if (n != 32)
    return -1;
  hex[32] = 0;
  if (asprintf (out, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
                hex + 16, hex + 20) < 0) {
    *out = NULL;
    oom ();
    return -2;
  }
  return 0;
}

static int
vmw_config (struct ovf *o, xmlNodePtr c)
{
  struct ferry_vm *vm = o->vm;
  char *k = attr_ns (c, "key", NS_VMW), *v = attr_ns (c, "value", NS_VMW);
  int r = 0;

  if (!k || !v)
    goto out;
  if (!strcmp (k, "firmware")) {
    if (!strcasecmp (v, "efi"))
      vm->firmware = FERRY_FW_EFI;
    else if (!strcasecmp (v, "bios"))
      vm->firmware = FERRY_FW_BIOS;
    else
      r = node_err (o, c, "key \"firmware\": expected bios or efi, not "
                    "\"%.40s\"", v);
    o->fw_set = true;
  }
  else if (!strcmp (k, "uefi.secureBoot.enabled")
           || !strcmp (k, "bootOptions.efiSecureBootEnabled"))
    r = config_bool (o, c, k, v, &vm->secure_boot);
  else if (!strcmp (k, "vhv.enable") || !strcmp (k, "nestedHVEnabled"))
    r = config_bool (o, c, k, v, &vm->nested_hv);
  else if (!strcmp (k, "vtpm.present"))
    r = config_bool (o, c, k, v, &vm->vtpm);
  else if (!strcmp (k, "uuid.bios") || !strcmp (k, "uuid")) {
    char *u = NULL;
    int e = normalise_uuid (v, &u);
    if (e == -1)
      r = node_err (o, c, "key \"%s\": \"%.60s\" is not a UUID", k, v);
    else if (e < 0)
      r = -1;
    else {
      free (vm->uuid);
      vm->uuid = u;
    }
  }
 out:
  free (k);
  free (v);
  return r;
}

/* ---- VirtualBox's own section -------------------------------------------- */

static xmlNodePtr
child_local (xmlNodePtr parent, const char *local)
{
  for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
    if (is_elem (c, local))
      return c;
  return NULL;
}

/* Firmware, UUID and the MACs of the enabled adapters, in slot order, for
 * NICs the OVF part gave no MAC. */
static int
read_vbox (struct ovf *o)
{
  struct ferry_vm *vm = o->vm;
  xmlNodePtr hw = child_local (o->vbox, "Hardware");
  char *s;

  if (!vm->uuid && (s = attr_ns (o->vbox, "uuid", NULL))) {
    char *u = NULL;
    int e = normalise_uuid (s, &u);
    free (s);
    if (e == 0)
      vm->uuid = u;
    else if (e == -2)
      return -1;
  }
  if (!hw)
    return 0;
  xmlNodePtr fw = child_local (hw, "Firmware");
  if (fw && !o->fw_set && (s = attr_ns (fw, "type", NULL))) {
    if (!strncasecmp (s, "EFI", 3))
      vm->firmware = FERRY_FW_EFI;
    free (s);
  }
  xmlNodePtr net = child_local (hw, "Network");
  size_t nic = 0;
  for (xmlNodePtr a = net ? net->children : NULL; a; a = a->next) {
    if (!is_elem (a, "Adapter"))
      continue;
    char *en = attr_ns (a, "enabled", NULL);
    bool enabled = en && !strcasecmp (en, "true");
    free (en);
    if (!enabled)
      continue;
    while (nic < vm->n_nics && vm->nics[nic].mac)
      nic++;
    if (nic >= vm->n_nics)
      break;
    char *mac = attr_ns (a, "MACAddress", NULL);
    if (mac) {
      vm->nics[nic].mac = mac_normalise (mac);
      vm->nics[nic].mac_static = vm->nics[nic].mac != NULL;
      free (mac);
    }
    nic++;
  }
  return 0;
}

/* ---- the virtual system ---------------------------------------------------- */

static int
read_hardware (struct ovf *o, xmlNodePtr hw)
{
  struct ferry_vm *vm = o->vm;
  size_t n = count_children (hw), n_items = 0;
  struct item *items = calloc (n + 1, sizeof *items);
  bool have_mem = false, have_cpu = false;
  char lab[160];
  int r = -1;

  if (!items)
    return oom ();
  vm->controllers = calloc (n + 1, sizeof *vm->controllers);
  vm->disks = calloc (n + 1, sizeof *vm->disks);
  vm->nics = calloc (n + 1, sizeof *vm->nics);
  vm->serials = calloc (n + 1, sizeof *vm->serials);
  o->ctls = calloc (n + 1, sizeof *o->ctls);
  if (!vm->controllers || !vm->disks || !vm->nics || !vm->serials || !o->ctls) {
    oom ();
    goto out;
  }

  for (xmlNodePtr c = hw->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (ns_is (c, NS_VMW) && (is_elem (c, "Config")
                              || is_elem (c, "ExtraConfig"))) {
      if (vmw_config (o, c) < 0)
        goto out;
      continue;
    }
    if (!ns_ovf (c) || (!is_elem (c, "Item") && !is_elem (c, "StorageItem")
                        && !is_elem (c, "EthernetPortItem")))
      continue;
    if (item_read (o, c, &items[n_items++]) < 0)
      goto out;
  }

  /* Controllers first: disks name them by InstanceID, in any order. */
  for (size_t i = 0; i < n_items; i++)
    if (controller_item (o, &items[i]) < 0)
      goto out;

  for (size_t i = 0; i < n_items; i++) {
    struct item *it = &items[i];
    uint64_t q, mult = UINT64_C (1) << 20, bytes;
    switch (it->type) {
    case RT_CPU:
      if (have_cpu) {
        node_err (o, it->node, "a second CPU item");
        goto out;
      }
      have_cpu = true;
      if (!it->quantity || parse_u64 (it->quantity, &q) < 0 || q == 0
          || q > OVF_MAX_VCPUS) {
        node_err (o, it->node, "%s: rasd:VirtualQuantity \"%.40s\" is not a "
                  "CPU count (1-%d)", item_label (it, lab, sizeof lab),
                  it->quantity ? it->quantity : "", OVF_MAX_VCPUS);
        goto out;
      }
      vm->vcpus = (unsigned) q;
      if (it->cores_per_socket) {
        if (parse_u64 (it->cores_per_socket, &q) < 0 || q == 0
            || q > OVF_MAX_VCPUS || vm->vcpus % q) {
          node_err (o, it->node, "vmw:CoresPerSocket \"%.40s\" does not "
                    "divide the %u vCPUs", it->cores_per_socket, vm->vcpus);
          goto out;
        }
        vm->cores_per_socket = (unsigned) q;
      }
      break;
    case RT_MEMORY:
      if (have_mem) {
        node_err (o, it->node, "a second memory item");
        goto out;
      }
      have_mem = true;
      if (!it->quantity || parse_u64 (it->quantity, &q) < 0) {
        node_err (o, it->node, "%s: rasd:VirtualQuantity \"%.40s\" is not a "
                  "number", item_label (it, lab, sizeof lab),
                  it->quantity ? it->quantity : "");
        goto out;
      }
      if (it->units && parse_units (it->units, &mult) < 0) {
        node_err (o, it->node, "%s: rasd:AllocationUnits \"%.60s\" is not a "
                  "unit of bytes (expected e.g. \"byte * 2^20\" or "
                  "\"MegaBytes\")", item_label (it, lab, sizeof lab),
                  it->units);
        goto out;
      }
      if (!mul_ok (q, mult, &bytes)
          || bytes > OVF_MAX_MEMORY_MIB << 20) {
        node_err (o, it->node, "%s: memory %s × %s is larger than 16 TiB",
                  item_label (it, lab, sizeof lab), it->quantity,
                  it->units ? it->units : "MiB");
        goto out;
      }
      if (bytes == 0) {
        node_err (o, it->node, "%s: memory size 0",
                  item_label (it, lab, sizeof lab));
        goto out;
      }
      vm->memory_mib = (bytes + (UINT64_C (1) << 20) - 1) >> 20;
      break;
    case RT_DISK: case RT_CD: case RT_DVD: case RT_FLOPPY:
      if (disk_item (o, it) < 0)
        goto out;
      break;
    case RT_NIC:
      if (nic_item (o, it) < 0)
        goto out;
      break;
    case RT_SERIAL: {
      struct ferry_vm_serial *s = &vm->serials[vm->n_serials++];
      const char *t = it->subtype && *it->subtype ? it->subtype : "unknown";
      if (!(s->type = strdup (t)))
        goto nomem;
      if (it->connection && *it->connection
          && !(s->target = strdup (it->connection)))
        goto nomem;
      if (warn (vm, "%s: serial port is not migrated; the target gets a "
                "serial console instead",
                item_label (it, lab, sizeof lab)) < 0)
        goto out;
      break;
    }
    case RT_USB:
      vm->usb_devices++;
      break;
    default:
      break;
    }
  }
  if (!have_cpu)
    vm->vcpus = 1;
  if (!have_mem && warn (vm, "no memory item; memory size unknown") < 0)
    goto out;
  if (vm->usb_devices
      && warn (vm, "%u USB controller%s (and any USB devices) will not be "
               "migrated", vm->usb_devices,
               vm->usb_devices == 1 ? "" : "s") < 0)
    goto out;
  r = 0;
  goto out;
 nomem:
  oom ();
 out:
  for (size_t i = 0; i < n_items; i++)
    item_free (&items[i]);
  free (items);
  return r;
}

static int
read_virtual_system (struct ovf *o)
{
  struct ferry_vm *vm = o->vm;
  xmlNodePtr vs = o->vs, hw = NULL, n;

  for (xmlNodePtr c = vs->children; c; c = c->next) {
    if (is_ovf (c, "VirtualHardwareSection") && !hw)
      hw = c;
    else if (is_elem (c, "Machine") && ns_is (c, NS_VBOX))
      o->vbox = c;
  }
  if ((n = child_ovf (vs, "Name")))
    vm->name = text_of (n);
  else
    vm->name = attr_ovf (vs, "id");
  if (vm->name && !*vm->name) {
    free (vm->name);
    vm->name = NULL;
  }
  if (!vm->name)
    return node_err (o, vs, "VirtualSystem has neither a Name nor an ovf:id");

  if ((n = child_ovf (vs, "OperatingSystemSection"))) {
    xmlNodePtr d;
    vm->guest_os = attr_ns (n, "osType", NS_VMW);
    if (!vm->guest_os) {
      for (xmlNodePtr c = n->children; c && !vm->guest_os; c = c->next)
        if (is_elem (c, "OSType") && ns_is (c, NS_VBOX))
          vm->guest_os = text_of (c);
    }
    if (!vm->guest_os && (d = child_ovf (n, "Description")))
      vm->guest_os = text_of (d);
  }
  if ((n = child_ovf (vs, "AnnotationSection"))
      && (n = child_ovf (n, "Annotation")))
    vm->annotation = text_of (n);

  if (!hw)
    return node_err (o, vs, "VirtualSystem without a VirtualHardwareSection");
  if (read_hardware (o, hw) < 0)
    return -1;
  if (o->vbox && read_vbox (o) < 0)
    return -1;

  if (vm->secure_boot && vm->firmware != FERRY_FW_EFI
      && warn (vm, "secure boot is enabled but the firmware is BIOS; secure "
               "boot does not apply") < 0)
    return -1;
  if (vm->vtpm
      && warn (vm, "the VM has a virtual TPM: its contents (keys sealed by "
               "BitLocker, LUKS, ...) are not migrated") < 0)
    return -1;
  for (size_t i = 0; i < vm->n_nics; i++)
    if (!vm->nics[i].mac
        && warn (vm, "network adapter %zu has no MAC address in the "
                 "descriptor; the target gets a new one", i + 1) < 0)
      return -1;
  return 0;
}

/* ---- document ---------------------------------------------------------------- */

struct dtd_guard {
  bool refused;
  long line;
  bool have_error;     /* the first parse error, the one worth reporting */
  int error_line;
  char error[300];
};

static void
first_error (void *ctx, xmlErrorPtr e)
{
  xmlParserCtxtPtr ctxt = ctx;
  struct dtd_guard *g = ctxt ? ctxt->_private : NULL;

  if (!g || g->have_error || !e || e->level < XML_ERR_ERROR)
    return;
  g->have_error = true;
  g->error_line = e->line;
  snprintf (g->error, sizeof g->error, "%s",
            e->message ? e->message : "not well-formed");
  size_t n = strlen (g->error);
  while (n && (g->error[n - 1] == '\n' || g->error[n - 1] == ' '))
    g->error[--n] = 0;
}

/* SAX hooks: a DOCTYPE stops the parse before anything in it is read. */
static void
refuse_subset (void *ctx, const xmlChar *name, const xmlChar *ext,
               const xmlChar *sys)
{
  xmlParserCtxtPtr ctxt = ctx;
  struct dtd_guard *g = ctxt->_private;

  (void) name, (void) ext, (void) sys;
  if (g && !g->refused) {
    g->refused = true;
    g->line = ctxt->input ? ctxt->input->line : 0;
  }
  xmlStopParser (ctxt);
}

static void
refuse_entity (void *ctx, const xmlChar *name, int type, const xmlChar *pub,
               const xmlChar *sys, xmlChar *content)
{
  (void) type, (void) pub, (void) content;
  refuse_subset (ctx, name, NULL, sys);
}

static int
parse_xml (const char *text, size_t len, const char *name, xmlDocPtr *docp)
{
  struct dtd_guard g = { 0 };
  xmlParserCtxtPtr ctxt;
  xmlDocPtr doc;

  *docp = NULL;
  if (len > INT_MAX)
    return ferry_error (FERRY_E_INPUT, "%s: %zu bytes is too large for an "
                        "OVF descriptor", name, len);
  ctxt = xmlCreateMemoryParserCtxt (text, (int) len);
  if (!ctxt)
    return len ? oom ()
               : ferry_error (FERRY_E_INPUT, "%s: empty file: not an OVF "
                              "descriptor", name);
  ctxt->_private = &g;
  ctxt->sax->internalSubset = refuse_subset;
  ctxt->sax->externalSubset = refuse_subset;
  ctxt->sax->entityDecl = refuse_entity;
  ctxt->sax->serror = first_error;
  /* No network, no DTD loading, no entity substitution, no messages on
   * stderr (the error is reported below), line numbers past 65535. */
  xmlCtxtUseOptions (ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR
                           | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES);
  xmlParseDocument (ctxt);
  doc = ctxt->myDoc;
  ctxt->myDoc = NULL;

  if (g.refused) {
    xmlFreeDoc (doc);
    xmlFreeParserCtxt (ctxt);
    return ferry_error (FERRY_E_INPUT,
                        "%s: line %ld: document type declaration (<!DOCTYPE>) "
                        "refused: OVF descriptors have no DTD, and entity "
                        "declarations could expand without bound or read "
                        "local files", name, g.line);
  }
  if (!ctxt->wellFormed || !doc) {
    const xmlError *e = xmlCtxtGetLastError (ctxt);
    if (!g.have_error && e && e->message)
      first_error (ctxt, (xmlErrorPtr) e);
    xmlFreeDoc (doc);
    xmlFreeParserCtxt (ctxt);
    return ferry_error (FERRY_E_INPUT, "%s: line %d: not well-formed XML: %s",
                        name, g.error_line,
                        g.have_error ? g.error : "not well-formed");
  }
  xmlFreeParserCtxt (ctxt);
  *docp = doc;
  return 0;
}

/* A VirtualSystem's name as an operator sees it: Name, else ovf:id;
 * malloc'd, NULL when it has neither (or out of memory). */
static char *
system_name (xmlNodePtr vs)
{
  xmlNodePtr n = child_ovf (vs, "Name");
  char *s = n ? text_of (n) : NULL;

  if (s && !*s) {
    free (s);
    s = NULL;
  }
  return s ? s : attr_ovf (vs, "id");
}

static bool
system_matches (xmlNodePtr vs, const char *want)
{
  char *a = system_name (vs), *b = attr_ovf (vs, "id");
  bool r = (a && strcmp (a, want) == 0) || (b && strcmp (b, want) == 0);

  free (a);
  free (b);
  return r;
}

/* The VirtualSystems of a collection (vApp), nested collections included,
 * in document order.  Depth is bounded: the input is outside data. */
static int
collect_systems (struct ovf *o, xmlNodePtr coll, unsigned depth,
                 xmlNodePtr **v, size_t *n)
{
  if (depth > 8)
    return node_err (o, coll, "VirtualSystemCollections nested more than 8 "
                     "deep");
  for (xmlNodePtr c = coll->children; c; c = c->next) {
    if (is_ovf (c, "VirtualSystemCollection")) {
      if (collect_systems (o, c, depth + 1, v, n) < 0)
        return -1;
    }
    else if (is_ovf (c, "VirtualSystem")) {
      xmlNodePtr *nv;
      if (*n >= 1024)
        return node_err (o, c, "more than 1024 VirtualSystems");
      if (!(nv = realloc (*v, (*n + 1) * sizeof *nv)))
        return oom ();
      nv[(*n)++] = c;
      *v = nv;
    }
  }
  return 0;
}

/* Pick the system named want among the collection's, or the only one. */
static int
choose_system (struct ovf *o, xmlNodePtr coll, const char *want)
{
  xmlNodePtr *v = NULL;
  size_t n = 0;
  char *list = NULL;
  size_t ll = 0;
  int r = -1;

  if (collect_systems (o, coll, 0, &v, &n) < 0)
    goto out;
  if (n == 0) {
    node_err (o, coll, "a VirtualSystemCollection without a VirtualSystem");
    goto out;
  }
  if (!want && n == 1) {
    o->vs = v[0];
    r = 0;
    goto out;
  }
  for (size_t i = 0; want && i < n; i++)
    if (system_matches (v[i], want)) {
      if (o->vs) {
        node_err (o, v[i], "two VirtualSystems are named \"%.100s\"", want);
        goto out;
      }
      o->vs = v[i];
    }
  if (o->vs) {
    r = 0;
    goto out;
  }
  /* The names, for the message. */
  for (size_t i = 0; i < n; i++) {
    char *nm = system_name (v[i]), *nl;
    const char *s = nm ? nm : "(unnamed)";
    size_t sl = strlen (s);
    if (ll > 500)
      break;
    if (!(nl = realloc (list, ll + sl + 3))) {
      free (nm);
      oom ();
      goto out;
    }
    list = nl;
    ll += (size_t) sprintf (list + ll, "%s%s", ll ? ", " : "", s);
    free (nm);
  }
  if (want)
    node_err (o, coll, "the VirtualSystemCollection (vApp) has no "
              "VirtualSystem named \"%.100s\"; its systems are: %s", want,
              list ? list : "");
  else
    node_err (o, coll, "the VirtualSystemCollection (vApp) holds %zu "
              "VirtualSystems: %s; choose one with --vm NAME", n,
              list ? list : "");
 out:
  free (list);
  free (v);
  return r;
}

int
ferry_ovf_parse (const char *text, size_t len, const char *name,
                 const char *dir, struct ferry_vm *out)
{
  return ferry_ovf_parse_select (text, len, name, dir, NULL, out);
}

int
ferry_ovf_parse_select (const char *text, size_t len, const char *name,
                        const char *dir, const char *vm_name,
                        struct ferry_vm *out)
{
  struct ovf o = { .name = name, .dir = dir, .vm = out };
  xmlDocPtr doc = NULL;
  xmlNodePtr env;
  int r = -1;

  memset (out, 0, sizeof *out);
  if (parse_xml (text, len, name, &doc) < 0)
    goto err;
  env = xmlDocGetRootElement (doc);
  if (!env || !is_ovf (env, "Envelope")) {
    if (env)
      node_err (&o, env, "the root element is not an OVF Envelope "
                "(namespace " NS_OVF1 ")");
    else
      ferry_error (FERRY_E_INPUT, "%s: no root element", name);
    goto err;
  }
  for (xmlNodePtr c = env->children; c; c = c->next) {
    if (is_ovf (c, "VirtualSystemCollection")) {
      if (o.vs) {
        node_err (&o, c, "a VirtualSystemCollection next to a "
                  "VirtualSystem");
        goto err;
      }
      if (choose_system (&o, c, vm_name) < 0)
        goto err;
      o.collection = true;
    }
    else if (is_ovf (c, "VirtualSystem")) {
      if (o.vs) {
        node_err (&o, c, "a second VirtualSystem");
        goto err;
      }
      o.vs = c;
    }
  }
  if (o.vs && !o.collection && vm_name && !system_matches (o.vs, vm_name)) {
    char *nm = system_name (o.vs);
    node_err (&o, o.vs, "--vm %.100s: the descriptor holds one "
              "VirtualSystem, named \"%.100s\"", vm_name, nm ? nm : "");
    free (nm);
    goto err;
  }
  if (!o.vs) {
    node_err (&o, env, "no VirtualSystem in the Envelope");
    goto err;
  }
  if (!(out->source = strdup (name))
      || !(out->source_format = strdup ("ovf"))) {
    oom ();
    goto err;
  }
  if (read_references (&o, env) < 0 || read_disk_section (&o, env) < 0
      || read_virtual_system (&o) < 0)
    goto err;
  if (o.collection
      && ferry_vm_warn (out, "the descriptor is a VirtualSystemCollection "
                        "(vApp): only the VirtualSystem \"%s\" is "
                        "converted; the vApp's start order and its other "
                        "systems are not", out->name) < 0) {
    oom ();
    goto err;
  }
  r = 0;
  goto done;

 err:
  ferry_vm_free (out);
 done:
  ovf_free (&o);
  xmlFreeDoc (doc);
  return r;
}
