"""libvirt with the patched QEMU: the complete arm64 KVM domain of the user
page (the "libvirt" section of docs/system/devices/vfio-bar-wc.rst, shown
again in the runbook) and its virsh commands, taken by a real libvirt
daemon (Debian 12's 9.0, in a private mount namespace:
project/scripts/libvirt_bed.py).

This machine is an x86 host with no KVM for aarch64 and no device for
vfio-pci.  The tests change in the page's domain only what it cannot
have, each change made where libvirt or QEMU refuses the domain without
it, and each test's docstring says which.  The emulator the domain names
under /opt is not changed: the bed links that path to the build's QEMU.
"""

import json
import re
import shlex
import textwrap
import xml.etree.ElementTree as ET

import pytest

import libvirt_bed
import vfio_user as vu
from wc import QEMU, QEMU_SRC, RUNBOOK

pytestmark = pytest.mark.quick

USER_PAGE = QEMU_SRC / "docs" / "system" / "devices" / "vfio-bar-wc.rst"
LIBVIRT_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
ET.register_namespace("qemu", LIBVIRT_NS)
# The domain's <emulator>: the installed patched QEMU of the runbook.
EMULATOR = "/opt/qemu-barwc/bin/qemu-system-aarch64"

# No KVM for aarch64 here: libvirt refuses type='kvm' ("does not support
# virt type 'kvm'"), and, once the domain is TCG, the host's CPU when it
# builds the command line.
TCG = ("<domain type='kvm' ", "<domain type='qemu' ")
TCG_CPU = ("<cpu mode='host-passthrough'/>",
           "<cpu mode='custom'><model>max</model></cpu>")


def code_block(text, language, first):
    """The ``.. code-block:: @language`` of @text that starts with @first,
    dedented."""
    for block in re.findall(rf"^\.\. code-block:: {language}\n\n(.*?)\n(?=\S|\Z)",
                            text, re.S | re.M):
        block = textwrap.dedent(block).strip("\n")
        if block.startswith(first):
            return block
    raise AssertionError(f"no {language} code block that starts with {first!r}")


def documented(path):
    """The libvirt domain and the virsh commands of the page at @path."""
    text = path.read_text()
    console = code_block(text, "console", "$ virsh ")
    assert all(line.startswith("$ virsh ") for line in console.splitlines()), console
    return (code_block(text, "xml", "<domain "),
            [line[2:] for line in console.splitlines()])


def substitute(xml, *changes):
    """@xml with each (old, new) of @changes made; each old must be there
    once, so that a domain the docs change fails here instead of going
    through unchanged."""
    for old, new in changes:
        assert xml.count(old) == 1, (old, xml)
        xml = xml.replace(old, new)
    return xml


def override_properties(domain):
    """The <qemu:override> frontend properties of @domain (an
    ElementTree <domain>): {device alias: {name: value}}."""
    return {dev.get("alias"): {p.get("name"): p.get("value") for p in
                               dev.iterfind(f"{{{LIBVIRT_NS}}}frontend/"
                                            f"{{{LIBVIRT_NS}}}property")}
            for dev in domain.iterfind(f"{{{LIBVIRT_NS}}}override/"
                                       f"{{{LIBVIRT_NS}}}device")}


def json_args(argv, option):
    """The JSON values of @option in @argv."""
    return [json.loads(v) for o, v in zip(argv, argv[1:]) if o == option]


def test_libvirt_runbook_domain_is_user_pages():
    """libvirt: the runbook's domain and virsh commands are the user page's, character for character, so the tests of the page's are tests of the runbook's"""
    assert documented(RUNBOOK) == documented(USER_PAGE)


def test_libvirt_domxml_to_native_user_page():
    """libvirt: the user page's complete arm64 KVM domain (<hostdev> with its <qemu:override>, UEFI, a disk) is taken by virsh define with only type='kvm' made 'qemu', and virsh domxml-to-native, with the CPU made max too, gives the vfio-pci -device with its barN-wc, the UEFI pflash and the disk

    As written, define refuses the domain for type='kvm' alone (this host
    has no KVM for aarch64); domxml-to-native refuses host-passthrough
    under TCG.  Neither needs the PCI device 0000:01:00.0, which this host
    has not, or the disk image; the AAVMF firmware is Debian's
    qemu-efi-aarch64, installed here.
    """
    xml, _ = documented(USER_PAGE)
    page = ET.fromstring(xml)
    with libvirt_bed.Libvirt(emulators={EMULATOR: str(QEMU["patched"])}) as lv:
        (lv.dir / "as-written.xml").write_text(xml)
        (lv.dir / "barwc.xml").write_text(substitute(xml, TCG))
        (lv.dir / "barwc-argv.xml").write_text(substitute(xml, TCG, TCG_CPU))
        as_written, define, dumpxml, native = lv.run([
            "virsh define as-written.xml",
            "virsh define barwc.xml",
            "virsh dumpxml --inactive barwc",
            "virsh domxml-to-native qemu-argv barwc-argv.xml"])
    assert as_written[1] != 0 and (
        f"Emulator '{EMULATOR}' does not support virt type 'kvm'" in as_written[2]), as_written
    for cmd, rc, out in (define, dumpxml, native):
        assert rc == 0, (cmd, out)

    defined = ET.fromstring(dumpxml[2])
    for path in ("devices/emulator", "os/loader"):
        assert defined.find(path).text == page.find(path).text, path
    assert defined.find("os/nvram").get("template") == page.find("os/nvram").get("template")
    assert defined.find("devices/hostdev/source/address").attrib == \
        page.find("devices/hostdev/source/address").attrib
    assert defined.find("devices/disk/source").get("file") == \
        page.find("devices/disk/source").get("file")
    assert override_properties(defined) == override_properties(page) == \
        {"ua-gpu0": {"bar0-wc": "off", "bar2-wc": "on"}}

    argv = shlex.split(native[2])
    assert EMULATOR in argv, argv
    # Without <acpi/>, libvirt 9.0 passes -no-acpi, which QEMU refuses.
    assert "-no-acpi" not in argv, argv
    devices = json_args(argv, "-device")
    vfio = [d for d in devices if d["driver"] == "vfio-pci"]
    assert vfio == [{"driver": "vfio-pci", "host": "0000:01:00.0",
                     "id": "ua-gpu0", "bus": vfio[0].get("bus"),
                     "addr": vfio[0].get("addr"),
                     "bar0-wc": "off", "bar2-wc": "on"}], argv
    files = {b["node-name"]: b["filename"] for b in json_args(argv, "-blockdev")
             if b["driver"] == "file"}
    machine = dict(kv.split("=", 1) for kv in
                   argv[argv.index("-machine") + 1].split(",")[1:])
    formats = {b["node-name"]: b["file"] for b in json_args(argv, "-blockdev")
               if "file" in b}
    assert files[formats[machine["pflash0"]]] == page.find("os/loader").text
    assert files[formats[machine["pflash1"]]] == "/var/lib/libvirt/qemu/nvram/barwc_VARS.fd"
    [disk] = [d for d in devices if d["driver"] == "virtio-blk-pci"]
    assert files[formats[disk["drive"]]] == page.find("devices/disk/source").get("file")


def test_libvirt_domain_vfio_user_report(vfio_user_server):
    """libvirt: the user page's domain and virsh commands, on the patched QEMU under TCG with a vfio-user-pci for its <hostdev>: the report of bar0-wc=off and bar2-wc=on through virsh qemu-monitor-command, under the hostdev's alias; destroyed, nothing is left

    Changed, besides type='qemu' and the CPU max (no KVM for aarch64
    here): the <hostdev> and its <qemu:override> become a vfio-user-pci
    device on the project's test server, with the hostdev's alias as its
    id and the override's properties, given with <qemu:commandline>: this
    host has no device for vfio-pci, and libvirt 9.0 has no vfio-user
    device.  The disk image is an empty file, where the domain says, in
    the bed's /var/lib/libvirt.
    """
    xml, commands = documented(USER_PAGE)
    domain = ET.fromstring(substitute(xml, TCG, TCG_CPU))
    devices = domain.find("devices")
    hostdev = devices.find("hostdev")
    alias = hostdev.find("alias").get("name")
    devices.remove(hostdev)
    override = domain.find(f"{{{LIBVIRT_NS}}}override")
    properties = override_properties(domain)[alias]
    domain.remove(override)
    name = domain.find("name").text
    cmdline = ET.SubElement(domain, f"{{{LIBVIRT_NS}}}commandline")
    ET.SubElement(cmdline, f"{{{LIBVIRT_NS}}}arg", value="-device")
    ET.SubElement(cmdline, f"{{{LIBVIRT_NS}}}arg", value=json.dumps(
        vu.vfio_user_device(vfio_user_server, id=alias, **properties)))
    with libvirt_bed.Libvirt(emulators={EMULATOR: str(QEMU["patched"])}) as lv:
        disk = lv.private(domain.find("devices/disk/source").get("file"))
        disk.parent.mkdir(parents=True)
        disk.write_bytes(b"")
        (lv.dir / "barwc.xml").write_text(ET.tostring(domain, encoding="unicode"))
        results = lv.run(commands + [
            f"virsh destroy {name}",
            f"virsh undefine {name} --nvram",
            "virsh list --all --name",
            f"pgrep -f '[g]uest={name}' || echo none"])
    for cmd, rc, text in results:
        assert rc == 0, (cmd, text)
    output = {cmd: text for cmd, _, text in results}
    [hmp] = [text for cmd, text in output.items() if "--hmp 'info vfio-bars'" in cmd]
    [qmp] = [text for cmd, text in output.items() if "query-vfio-pci-bars" in cmd]
    assert hmp.startswith(f"{alias} ("), hmp
    for line in ("BAR 0: mem32, 0x10000 bytes, bar0-wc=off -> device-ngnre by accel",
                 "BAR 2: mem32 prefetchable, 0x100000 bytes, bar2-wc=on -> normal-nc by accel"):
        # No reason follows on or off.
        assert re.search(re.escape(line) + r"\r?\n", hmp), hmp
    [report] = json.loads(qmp)["return"]
    assert report["device-id"] == alias, report
    assert [(b["index"], b["requested"], b.get("effective")) for b in report["bars"]] == \
        [(0, "off", "device-ngnre"), (1, "auto", None), (2, "on", "normal-nc"),
         (3, "auto", None), (4, "auto", None), (5, "auto", None)], report
    left_domains, left_qemu = results[-2][2], results[-1][2]
    assert left_domains.strip() == "", left_domains
    assert left_qemu.strip() == "none", left_qemu
