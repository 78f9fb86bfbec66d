#!/usr/bin/env python3
"""Independent checks of ferry's emitter output (tests/emit_validate.sh).

  check_emit.py kubevirt FILE.kubevirt.yaml
      Parse with PyYAML (safe_load_all), check every key against the
      KubeVirt / CDI / core API field names (a typo is an unknown field),
      the types a YAML reader resolves (names are strings, counts integers),
      cross references (disks <-> volumes <-> DataVolumes/PVCs, interfaces
      <-> networks), RFC 1123 names, and per-fixture expectations by exact
      field path.
  check_emit.py domain OURS.xml LIBVIRT.xml
      Compare what we wrote with what libvirt's parser made of it
      (virsh dumpxml after define): name, uuid, memory, vcpus, topology,
      firmware, machine, disks, MACs, TPM.
  check_emit.py report FILE.report.json
      Shape of the report.

Exit 0 when everything holds; otherwise print each problem and exit 1.
"""
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

problems = []


def bad(where, msg):
    problems.append(f"{where}: {msg}")


# ---- KubeVirt --------------------------------------------------------------

# Allowed keys, from the KubeVirt (kubevirt.io/v1), CDI (v1beta1) and core
# (v1) API types, for the parts ferry writes.  A dict maps keys to the
# schema of their values; "[]" is a list of the inner schema; None is a
# leaf of any scalar; "{}" an empty or free-form map (labels, annotations).
FREE = "free"
FEATURE = {"enabled": None}
META = {"name": None, "namespace": None, "labels": FREE, "annotations": FREE}
RESOURCES = {"requests": {"storage": None}, "limits": {"storage": None}}
STORAGE = {"accessModes": [None], "volumeMode": None,
           "storageClassName": None, "resources": RESOURCES}
VM_SCHEMA = {
    "apiVersion": None, "kind": None, "metadata": META,
    "spec": {
        "runStrategy": None, "running": None,
        "template": {
            "metadata": META,
            "spec": {
                "domain": {
                    "cpu": {"sockets": None, "cores": None, "threads": None,
                            "model": None},
                    "memory": {"guest": None},
                    "firmware": {"uuid": None, "serial": None,
                                 "bootloader": {"bios": {"useSerial": None},
                                                "efi": {"secureBoot": None,
                                                        "persistent": None}}},
                    "features": {
                        "acpi": FEATURE, "apic": {"enabled": None},
                        "smm": FEATURE,
                        "hyperv": {k: FEATURE for k in (
                            "relaxed", "vapic", "vpindex", "runtime", "synic",
                            "synictimer", "reset", "frequencies",
                            "reenlightenment", "tlbflush", "ipi", "evmcs")}
                        | {"spinlocks": {"enabled": None, "spinlocks": None}},
                    },
                    "clock": {"utc": {"offsetSeconds": None},
                              "timezone": None,
                              "timer": {k: {"present": None, "tickPolicy": None}
                                        for k in ("hpet", "kvm", "pit", "rtc",
                                                  "hyperv")}},
                    "devices": {
                        "disks": [{"name": None, "bootOrder": None,
                                   "serial": None,
                                   "disk": {"bus": None}}],
                        "interfaces": [{"name": None, "macAddress": None,
                                        "model": None, "bootOrder": None,
                                        "masquerade": {}, "bridge": {}}],
                        "rng": {}, "tpm": {"persistent": None},
                        "autoattachPodInterface": None,
                    },
                },
                "networks": [{"name": None, "pod": {},
                              "multus": {"networkName": None,
                                         "default": None}}],
                "volumes": [{"name": None,
                             "dataVolume": {"name": None},
                             "persistentVolumeClaim": {"claimName": None,
                                                       "readOnly": None}}],
            },
        },
    },
}
DV_SCHEMA = {
    "apiVersion": None, "kind": None, "metadata": META,
    "spec": {"source": {"upload": {}, "blank": {}}, "storage": STORAGE},
}
PVC_SCHEMA = {"apiVersion": None, "kind": None, "metadata": META,
              "spec": STORAGE}

RFC1123 = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
QUANTITY = re.compile(r"^[1-9][0-9]*(Mi|Gi)$")


def walk(where, node, schema):
    if schema is FREE:
        if not isinstance(node, dict):
            bad(where, "expected a map")
            return
        for k, v in node.items():
            if not isinstance(k, str) or not isinstance(v, str):
                bad(where, f"{k!r}: labels/annotations must map strings to strings")
        return
    if schema is None:
        if isinstance(node, (dict, list)):
            bad(where, "expected a scalar")
        return
    if isinstance(schema, list):
        if not isinstance(node, list):
            bad(where, "expected a list")
            return
        for i, item in enumerate(node):
            walk(f"{where}[{i}]", item, schema[0])
        return
    if not isinstance(node, dict):
        bad(where, f"expected a map, got {node!r}")
        return
    for k, v in node.items():
        if k not in schema:
            bad(where, f"unknown field {k!r}")
        else:
            walk(f"{where}.{k}" if where else k, v, schema[k])


def get(doc, path):
    """Value at a dotted path with [n] indices, or KeyError."""
    node = doc
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            node = node[int(part[1:-1])]
        else:
            node = node[part]
    return node


def expect(where, doc, path, want):
    try:
        got = get(doc, path)
    except (KeyError, IndexError, TypeError):
        bad(where, f"{path}: missing (want {want!r})")
        return
    if got != want or type(got) is not type(want):
        bad(where, f"{path}: got {got!r}, want {want!r}")


def has(doc, path):
    try:
        get(doc, path)
        return True
    except (KeyError, IndexError, TypeError):
        return False


def check_kubevirt(path):
    import yaml
    with open(path, encoding="utf-8") as f:
        docs = list(yaml.safe_load_all(f))
    w = os.path.basename(path)
    if not docs or docs[0].get("kind") != "VirtualMachine":
        bad(w, "the first document is not a VirtualMachine")
        return
    vm = docs[0]
    walk(w + ":VirtualMachine", vm, VM_SCHEMA)
    expect(w, vm, "apiVersion", "kubevirt.io/v1")
    name = vm["metadata"]["name"]
    if not isinstance(name, str) or not RFC1123.match(name):
        bad(w, f"metadata.name {name!r} is not an RFC 1123 label")
    if vm["spec"]["runStrategy"] not in ("Always", "RerunOnFailure", "Manual",
                                         "Halted", "Once"):
        bad(w, "spec.runStrategy")
    tspec = vm["spec"]["template"]["spec"]
    dom = tspec["domain"]
    for k in ("sockets", "cores", "threads"):
        v = dom["cpu"][k]
        if type(v) is not int or v < 1:
            bad(w, f"spec.template.spec.domain.cpu.{k}: {v!r} is not a positive integer")
    if not re.match(r"^[1-9][0-9]*Mi$", str(dom["memory"]["guest"])):
        bad(w, "memory.guest is not NMi")
    bl = dom["firmware"]["bootloader"]
    if len(bl) != 1:
        bad(w, "firmware.bootloader must be exactly one of bios/efi")
    if "efi" in bl:
        sb = bl["efi"].get("secureBoot")
        if type(sb) is not bool:
            bad(w, "efi.secureBoot is not a boolean")
        if sb and dom.get("features", {}).get("smm", {}).get("enabled") is not True:
            bad(w, "secure boot without features.smm.enabled: true")
    if "uuid" in dom["firmware"] and not UUID.match(str(dom["firmware"]["uuid"])):
        bad(w, "firmware.uuid")

    disks = dom["devices"]["disks"]
    vols = tspec["volumes"]
    dnames = [d["name"] for d in disks]
    if len(set(dnames)) != len(dnames):
        bad(w, "duplicate disk names")
    if dnames != [v["name"] for v in vols]:
        bad(w, "disks and volumes do not match one to one")
    boots = [i for i, d in enumerate(disks) if "bootOrder" in d]
    if disks and (boots != [0] or disks[0]["bootOrder"] != 1):
        bad(w, "bootOrder 1 must be on the first disk only")
    for i, d in enumerate(disks):
        if d["disk"]["bus"] not in ("virtio", "sata", "scsi"):
            bad(w, f"disks[{i}].disk.bus")

    ifaces = dom["devices"].get("interfaces", [])
    nets = tspec.get("networks", [])
    if [i["name"] for i in ifaces] != [n["name"] for n in nets]:
        bad(w, "interfaces and networks do not match one to one")
    pods = 0
    for i, (iface, net) in enumerate(zip(ifaces, nets)):
        binding = [k for k in ("masquerade", "bridge") if k in iface]
        kind = [k for k in ("pod", "multus") if k in net]
        if len(binding) != 1 or len(kind) != 1:
            bad(w, f"interface/network {i}: one binding and one network kind")
            continue
        if (binding[0] == "masquerade") != (kind[0] == "pod"):
            bad(w, f"interface {i}: masquerade goes with pod, bridge with multus")
        pods += kind[0] == "pod"
        if "macAddress" in iface and not MAC.match(str(iface["macAddress"])):
            bad(w, f"interfaces[{i}].macAddress")
        if iface.get("model") != "virtio":
            bad(w, f"interfaces[{i}].model")
    if pods > 1:
        bad(w, "more than one pod network")
    if not ifaces and dom["devices"].get("autoattachPodInterface") is not False:
        bad(w, "no interfaces but autoattachPodInterface is not false")

    # Volumes refer to the documents that follow, in order.
    rest = docs[1:]
    if len(rest) != len(vols):
        bad(w, f"{len(vols)} volumes but {len(rest)} volume documents")
    for i, (v, d) in enumerate(zip(vols, rest)):
        if "dataVolume" in v:
            walk(f"{w}:doc{i + 1}", d, DV_SCHEMA)
            expect(w, d, "apiVersion", "cdi.kubevirt.io/v1beta1")
            expect(w, d, "kind", "DataVolume")
            expect(w, d, "metadata.name", v["dataVolume"]["name"])
            st = d["spec"]["storage"]
            if len(d["spec"]["source"]) != 1:
                bad(w, f"doc{i + 1}: one DataVolume source")
        elif "persistentVolumeClaim" in v:
            walk(f"{w}:doc{i + 1}", d, PVC_SCHEMA)
            expect(w, d, "apiVersion", "v1")
            expect(w, d, "kind", "PersistentVolumeClaim")
            expect(w, d, "metadata.name", v["persistentVolumeClaim"]["claimName"])
            st = d["spec"]
        else:
            bad(w, f"volumes[{i}] is neither dataVolume nor persistentVolumeClaim")
            continue
        vname = d["metadata"]["name"]
        if not isinstance(vname, str) or not RFC1123.match(vname):
            bad(w, f"doc{i + 1}: name {vname!r} is not an RFC 1123 label")
        if d["metadata"].get("namespace") != vm["metadata"].get("namespace"):
            bad(w, f"doc{i + 1}: namespace differs from the VM's")
        if st["accessModes"] != ["ReadWriteOnce"]:
            bad(w, f"doc{i + 1}: accessModes")
        if st["volumeMode"] not in ("Block", "Filesystem"):
            bad(w, f"doc{i + 1}: volumeMode")
        if not QUANTITY.match(str(st["resources"]["requests"]["storage"])):
            bad(w, f"doc{i + 1}: storage request")

    # Per-fixture expectations (the fixtures of tests/unit/test_emit.c).
    base = w.replace(".kubevirt.yaml", "")
    P = "spec.template.spec.domain."
    if base == "web01":
        expect(w, vm, "metadata.name", "web01")
        expect(w, vm, "spec.runStrategy", "Halted")
        expect(w, vm, P + "cpu.sockets", 2)
        expect(w, vm, P + "cpu.cores", 2)
        expect(w, vm, P + "cpu.threads", 1)
        expect(w, vm, P + "memory.guest", "4096Mi")
        expect(w, vm, P + "firmware.bootloader.bios", {})
        expect(w, vm, P + "firmware.uuid", "564d3e2f-9b22-ea5c-778e-0d2b3a9c4f11")
        expect(w, vm, P + "devices.disks[0].bootOrder", 1)
        expect(w, vm, P + "devices.disks[0].disk.bus", "virtio")
        expect(w, vm, P + "devices.interfaces[0].macAddress", "00:50:56:aa:bb:01")
        expect(w, vm, P + "devices.interfaces[0].masquerade", {})
        expect(w, vm, "spec.template.spec.networks[0].pod", {})
        expect(w, vm, "spec.template.spec.volumes[0].dataVolume.name", "web01-disk-0")
        expect(w, docs[1], "spec.storage.resources.requests.storage", "20Gi")
        expect(w, docs[1], "spec.storage.volumeMode", "Block")
        expect(w, docs[1], "spec.source.upload", {})
    elif base in ("win-sb", "win-sb-kv", "win-sb-pvc"):
        expect(w, vm, P + "firmware.bootloader.efi.secureBoot", True)
        expect(w, vm, P + "features.smm.enabled", True)
        expect(w, vm, P + "cpu.sockets", 2)
        expect(w, vm, P + "cpu.cores", 4)
        expect(w, vm, P + "memory.guest", "8192Mi")
        expect(w, vm, P + "devices.tpm", {})
        expect(w, vm, P + "features.hyperv.spinlocks.spinlocks", 8191)
        if len(ifaces) != 3:
            bad(w, "3 interfaces expected")
        if len(disks) != 2:
            bad(w, "2 disks expected")
        if base == "win-sb-kv":
            expect(w, vm, "metadata.namespace", "migrated")
            expect(w, vm, "spec.template.spec.networks[0].multus.networkName", "prod/vlan10")
            expect(w, vm, "spec.template.spec.networks[2].pod", {})
            expect(w, docs[2], "spec.storage.resources.requests.storage", "102912Mi")
            expect(w, docs[2], "spec.storage.storageClassName", "ssd-rbd")
            expect(w, docs[2], "spec.storage.volumeMode", "Filesystem")
        if base == "win-sb-pvc":
            expect(w, docs[1], "kind", "PersistentVolumeClaim")
            expect(w, docs[1], "spec.resources.requests.storage", "60Gi")
    elif base == "win-efi":
        expect(w, vm, P + "firmware.bootloader.efi.secureBoot", False)
        if has(vm, P + "features.smm"):
            bad(w, "smm without secure boot")
    elif base == "bigdb":
        if len(disks) != 13 or len(docs) != 14:
            bad(w, "13 disks and 13 DataVolumes expected")
        if docs[1]["metadata"]["annotations"].get("ferry.io/image-path") != "/t/big-scsi0-0.raw":
            bad(w, "the first DataVolume is not the boot disk scsi0:0")
        expect(w, docs[1], "spec.storage.resources.requests.storage", "5Gi")
    elif base == "no-nics":
        expect(w, vm, P + "devices.autoattachPodInterface", False)
        if has(vm, "spec.template.spec.networks"):
            bad(w, "networks without interfaces")
    elif base == "numeric-name":
        expect(w, vm, "metadata.name", "12345")
        if vm["metadata"]["annotations"].get("ferry.io/guest-os") != "yes":
            bad(w, "annotation ferry.io/guest-os must read back as the string 'yes'")


# ---- libvirt -------------------------------------------------------------

def dom_facts(path):
    root = ET.parse(path).getroot()
    f = {
        "name": root.findtext("name"),
        "uuid": root.findtext("uuid"),
        "memory": int(root.findtext("memory")) * {"KiB": 1, "MiB": 1024}[
            root.find("memory").get("unit", "KiB")],
        "vcpu": int(root.findtext("vcpu")),
        "topology": {k: root.find("cpu/topology").get(k)
                     for k in ("sockets", "cores", "threads")},
        "firmware": root.find("os").get("firmware"),
        "secure-boot": [e.get("enabled") for e in
                        root.findall("os/firmware/feature[@name='secure-boot']")],
        "machine": root.find("os/type").get("machine"),
        "disks": [(d.find("source").get("file") or d.find("source").get("dev"),
                   d.find("target").get("dev"), d.find("target").get("bus"),
                   d.find("driver").get("type"),
                   d.find("boot").get("order") if d.find("boot") is not None else None)
                  for d in root.findall("devices/disk[@device='disk']")],
        "cdroms": len(root.findall("devices/disk[@device='cdrom']")),
        "macs": [m.get("address") for m in root.findall("devices/interface/mac")],
        "nics": len(root.findall("devices/interface")),
        "tpm": len(root.findall("devices/tpm")),
        "channel": [c.get("name") for c in root.findall("devices/channel/target")],
    }
    return f


def check_domain(ours, theirs):
    a, b = dom_facts(ours), dom_facts(theirs)
    w = os.path.basename(ours)
    for k in a:
        if k == "uuid" and a[k] is None:
            continue  # libvirt made one up
        if k == "machine":
            # libvirt may expand an alias to a versioned machine
            if not (b[k] == a[k] or b[k].startswith("pc-" + a[k]) or
                    (a[k] == "pc" and b[k].startswith("pc-i440fx"))):
                bad(w, f"machine: ours {a[k]}, libvirt {b[k]}")
            continue
        if a[k] != b[k]:
            bad(w, f"{k}: ours {a[k]!r}, libvirt's {b[k]!r}")


# ---- report --------------------------------------------------------------

def check_report(path):
    w = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        r = json.load(f)
    for k in ("ferry_version", "name", "source", "format", "vm", "disks",
              "guest", "warnings", "critical"):
        if k not in r:
            bad(w, f"missing {k}")
    if not isinstance(r.get("guest"), dict):
        bad(w, "guest is not an object")
    for i, d in enumerate(r.get("disks", [])):
        for k in ("source_file", "source_path", "target_path", "target_format",
                  "virtual_size", "bytes_copied", "checksum", "seconds"):
            if k not in d:
                bad(w, f"disks[{i}] has no {k}")
    crit = False
    for i, x in enumerate(r.get("warnings", [])):
        if set(x) != {"severity", "code", "message"}:
            bad(w, f"warnings[{i}] fields {sorted(x)}")
        if x.get("severity") not in ("warning", "critical"):
            bad(w, f"warnings[{i}].severity")
        crit |= x.get("severity") == "critical"
    if r.get("critical") is not crit:
        bad(w, "critical does not match the warnings")


def main():
    mode, *args = sys.argv[1:]
    {"kubevirt": check_kubevirt, "domain": check_domain,
     "report": check_report}[mode](*args)
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
