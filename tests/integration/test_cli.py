"""The uvdpa CLI against the real uvdpad: iproute2 vdpa's grammar, its
text and JSON output byte for byte (quirks included, reference §2, §11.3),
its error lines and exit codes. uvdpa's own fields (the bound driver and
its endpoint) come after iproute2's."""
import concurrent.futures
import os

from conftest import endpoint, need_cli

NET_FEATURES_TEXT = ("MTU MAC STATUS CTRL_VQ CTRL_MAC_ADDR ANY_LAYOUT "
                     "VERSION_1 ACCESS_PLATFORM")
NET_FEATURES_JSON = ('"MTU","MAC","STATUS","CTRL_VQ","CTRL_MAC_ADDR",'
                     '"ANY_LAYOUT","VERSION_1","ACCESS_PLATFORM"')
# the blk parent's: SIZE_MAX SEG_MAX RO BLK_SIZE FLUSH TOPOLOGY CONFIG_WCE MQ
# DISCARD WRITE_ZEROES (1, 2, 5, 6, 9-14), which iproute2 prints by number
# for a block device (it names net bits only), and bit 27 (ANY_LAYOUT)
BLK_FEATURES_TEXT = ("bit_1 bit_2 bit_5 bit_6 bit_9 bit_10 bit_11 bit_12 "
                     "bit_13 bit_14 bit_27 RING_INDIRECT_DESC RING_EVENT_IDX "
                     "VERSION_1 ACCESS_PLATFORM")
BLK_FEATURES_JSON = ('1,2,5,6,9,10,11,12,13,14,27,"RING_INDIRECT_DESC",'
                     '"RING_EVENT_IDX","VERSION_1","ACCESS_PLATFORM"')


def test_mgmtdev_show_text(d):
    p = d.cli("mgmtdev", "show", check=0)
    assert p.stdout == (
        "vdpasim_net: \n"
        "  supported_classes net\n"
        "  max_supported_vqs 3\n"
        "  dev_features " + NET_FEATURES_TEXT + "\n"
        "vdpasim_blk: \n"
        "  supported_classes block\n"
        "  max_supported_vqs 0\n"
        "  dev_features\n"
        "blk: \n"
        "  supported_classes block\n"
        "  max_supported_vqs 64\n"
        "  dev_features " + BLK_FEATURES_TEXT + "\n")
    assert d.cli("mgmtdev", "list", "vdpasim_blk", check=0).stdout == (
        "vdpasim_blk: \n"
        "  supported_classes block\n"
        "  max_supported_vqs 0\n"
        "  dev_features\n")


def test_mgmtdev_show_json(d):
    assert d.cli("-j", "mgmtdev", "show", check=0).stdout == (
        '{"mgmtdev":{"vdpasim_net":{"supported_classes":["net"],'
        '"max_supported_vqs":3,"dev_features":[' + NET_FEATURES_JSON +
        ']},"vdpasim_blk":{"supported_classes":["block"],'
        '"max_supported_vqs":0,"dev_features":[]},'
        '"blk":{"supported_classes":["block"],"max_supported_vqs":64,'
        '"dev_features":[' + BLK_FEATURES_JSON + ']}}}\n')


def test_mgmtdev_show_pretty_json(d):
    assert d.cli("-jp", "mgmtdev", "show", "vdpasim_net", check=0).stdout == (
        '{\n'
        '    "mgmtdev": {\n'
        '        "vdpasim_net": {\n'
        '            "supported_classes": [ "net" ],\n'
        '            "max_supported_vqs": 3,\n'
        '            "dev_features": [ ' + NET_FEATURES_JSON + ' ]\n'
        '        }\n'
        '    }\n'
        '}\n')


def test_dev_show(d):
    assert d.cli("dev", "show", check=0).stdout == ""
    assert d.cli("-j", "dev", "show", check=0).stdout == '{"dev":{}}\n'
    d.cli("dev", "add", "name", "vdpa-net1", "mgmtdev", "vdpasim_net", check=0)
    d.cli("dev", "add", "name", "vdpa-blk1", "mgmtdev", "vdpasim_blk", check=0)
    assert d.cli("dev", "show", check=0).stdout == (
        "vdpa-net1: type network mgmtdev vdpasim_net vendor_id 0 max_vqs 3 "
        "max_vq_size 256 driver vhost_vdpa endpoint %s\n"
        "vdpa-blk1: type block mgmtdev vdpasim_blk vendor_id 0 max_vqs 1 "
        "max_vq_size 256 driver vhost_vdpa endpoint %s\n"
        % (endpoint(d, 0), endpoint(d, 1)))
    assert d.cli("dev", "show", "vdpa-blk1", check=0).stdout.startswith(
        "vdpa-blk1: type block mgmtdev vdpasim_blk vendor_id 0 max_vqs 1 "
        "max_vq_size 256")
    # "vdpa dev" alone shows all
    assert d.cli("dev", check=0).stdout.count("\n") == 2


def test_dev_show_json(d):
    d.cli("dev", "add", "name", "vdpa-blk1", "mgmtdev", "vdpasim_blk", check=0)
    assert d.cli("-j", "dev", "show", check=0).stdout == (
        '{"dev":{"vdpa-blk1":{"type":"block","mgmtdev":"vdpasim_blk",'
        '"vendor_id":0,"max_vqs":1,"max_vq_size":256,"driver":"vhost_vdpa",'
        '"endpoint":"%s"}}}\n' % endpoint(d, 0))
    assert d.cli("dev", "show", "-jp", check=0).stdout == (
        '{\n'
        '    "dev": {\n'
        '        "vdpa-blk1": {\n'
        '            "type": "block",\n'
        '            "mgmtdev": "vdpasim_blk",\n'
        '            "vendor_id": 0,\n'
        '            "max_vqs": 1,\n'
        '            "max_vq_size": 256,\n'
        '            "driver": "vhost_vdpa",\n'
        '            "endpoint": "%s"\n'
        '        }\n'
        '    }\n'
        '}\n' % endpoint(d, 0))


def test_dev_config_show(d):
    d.cli("dev", "add", "name", "bar", "mgmtdev", "vdpasim_net",
          "mac", "00:35:09:19:48:05", check=0)
    d.cli("dev", "add", "name", "blk0", "mgmtdev", "vdpasim_blk", check=0)
    assert d.cli("dev", "config", "show", check=0).stdout == (
        "bar: mac 00:35:09:19:48:05 link up link_announce false mtu 1500 \n"
        # iproute2 stops at "blk0: "; uvdpa's fields follow
        "blk0: capacity 262144 blk_size 512 size_max 4096 seg_max 32 "
        "num_queues 1 physical_block_exp 0 alignment_offset 0 min_io_size 1 "
        "opt_io_size 1 max_discard_sectors 4294967295 max_discard_seg 1 "
        "discard_sector_alignment 512 max_write_zeroes_sectors 4294967295 "
        "max_write_zeroes_seg 1 read_only false flush true \n")
    assert d.cli("-j", "dev", "config", "show", "bar", check=0).stdout == (
        '{"config":{"bar":{"mac":"00:35:09:19:48:05","link ":"up",'
        '"link_announce ":false,"mtu":1500}}}\n')
    assert d.cli("-jp", "dev", "config", "show", "bar", check=0).stdout == (
        '{\n'
        '    "config": {\n'
        '        "bar": {\n'
        '            "mac": "00:35:09:19:48:05",\n'
        '            "link ": "up",\n'
        '            "link_announce ": false,\n'
        '            "mtu": 1500\n'
        '        }\n'
        '    }\n'
        '}\n')


def test_dev_add_options(d):
    d.cli("dev", "add", "name", "dev1", "mgmtdev", "vdpasim_net",
          "device_features", "0x300020000", "mac", "52:54:00:12:34:56",
          "mtu", "65535", check=1)  # MAC/MTU not in the features: EINVAL
    d.cli("dev", "add", "name", "dev1", "mgmtdev", "vdpasim_net",
          "device_features", "300030028", "mac", "52:54:00:12:34:56",
          "mtu", "65535", check=0)
    assert d.cli("dev", "config", "show", "dev1", check=0).stdout == (
        "dev1: mac 52:54:00:12:34:56 link up link_announce false "
        "mtu 65535 \n")


def test_prefix_matching(d):
    # iproute2's matches() for objects, verbs and name/mgmtdev keywords
    d.cli("d", "a", "n", "p1", "m", "vdpasim_blk", check=0)
    assert d.cli("m", "s", "vdpasim_blk", check=0).stdout.startswith(
        "vdpasim_blk: ")
    assert "p1:" in d.cli("d", "l", check=0).stdout
    d.cli("d", "de", "p1", check=0)
    # and exact words where iproute2 uses strcmp
    assert d.cli("dev", "vstat", "show", "x", "qidx", "0").returncode == 1
    p = d.cli("dev", "add", "name", "p2", "mgmtdev", "vdpasim_net",
              "mx", "00:11:22:33:44:55")
    assert p.returncode == 1 and 'Unknown option "mx"' in p.stderr
    # "ma" is a prefix of max_vqp (matches()), not of mac (strcmp)
    p = d.cli("dev", "add", "name", "p2", "mgmtdev", "vdpasim_net",
              "ma", "00:11:22:33:44:55")
    assert p.returncode == 1
    assert "p2" not in d.cli("dev", "show", check=0).stdout


def test_errors_as_iproute2_prints_them(d):
    d.cli("dev", "add", "name", "x", "mgmtdev", "vdpasim_blk", check=0)
    p = d.cli("dev", "add", "name", "x", "mgmtdev", "vdpasim_blk", check=1)
    assert p.stderr == "kernel answers: File exists\n"
    p = d.cli("dev", "add", "name", "y", "mgmtdev", "vdpasim_foo", check=1)
    assert p.stderr == ("Error: vdpa: Fail to find the specified management "
                        "device.\nkernel answers: No such device\n")
    p = d.cli("dev", "add", "name", "y", "mgmtdev", "vdpasim_blk",
              "mac", "00:11:22:33:44:55", check=1)
    assert p.stderr == ("Error: vdpa: Some provided attributes are not "
                        "supported: 0x400.\nkernel answers: Operation not "
                        "supported\n")
    p = d.cli("dev", "add", "name", "y", "mgmtdev", "vdpasim_net",
              "max_vqp", "2", check=1)
    assert "not supported: 0x1000." in p.stderr
    p = d.cli("dev", "add", "name", "y", "mgmtdev", "vdpasim_net",
              "max_vqp", "0", check=1)
    assert p.stderr == ("Error: vdpa: At least one pair of VQs is required."
                        "\nkernel answers: Invalid argument\n")
    p = d.cli("dev", "add", "name", "y", "mgmtdev", "vdpasim_net",
              "device_features", "0x100000000", "mac", "00:11:22:33:44:55",
              check=1)
    assert p.stderr.startswith("Error: vdpa: Missing features 0x20 for "
                               "provided attributes.\n")
    p = d.cli("dev", "del", "ghost", check=1)
    assert p.stderr == ("Error: vdpa: device not found.\n"
                        "kernel answers: No such device\n")


def test_vstats_before_negotiation(d):
    d.cli("dev", "add", "name", "n", "mgmtdev", "vdpasim_net", check=0)
    p = d.cli("dev", "vstats", "show", "n", "qidx", "0", check=1)
    assert p.stderr == ("Error: vdpa: feature negotiation not complete.\n"
                        "kernel answers: Resource temporarily unavailable\n")


def test_dev_set(d):
    d.cli("dev", "add", "name", "n", "mgmtdev", "vdpasim_net", check=0)
    d.cli("dev", "add", "name", "b", "mgmtdev", "vdpasim_blk", check=0)
    d.cli("dev", "set", "name", "n", "mac", "52:54:00:aa:bb:cc", check=0)
    assert "mac 52:54:00:aa:bb:cc " in d.cli("dev", "config", "show", "n",
                                             check=0).stdout
    p = d.cli("dev", "set", "name", "n", "mac", "01:00:00:00:00:01", check=1)
    assert "Error: vdpa: Invalid MAC address." in p.stderr
    # the kernel answers 0 with a message: a warning, exit 0
    p = d.cli("dev", "set", "name", "b", "mac", "52:54:00:aa:bb:cc", check=0)
    assert p.stderr.startswith("Warning: vdpa: ")


def test_version_help_and_bad_words(d):
    assert d.cli("-V", check=0).stdout.startswith("uvdpa utility, uvdpa-")
    assert d.cli("mgmtdev", check=0).stderr.startswith("Usage:")
    assert d.cli("help", check=0).returncode == 0
    assert d.cli("bogus").returncode == 1
    assert d.cli("dev", "add", "name", "z").returncode == 1  # no mgmtdev
    assert d.cli("dev", "vstats", "show", "z").returncode == 1  # no qidx
    assert d.cli("dev", "show", "-s").returncode == 1


def test_no_daemon(tmpbase):
    need_cli()
    from conftest import Daemon
    d = Daemon(tmpbase)  # never started
    p = d.cli("dev", "show")
    assert p.returncode == 1
    assert p.stderr.startswith("Failed to connect to vdpa Netlink\n")
    assert d.sock in p.stderr


def test_non_root_cli(d):
    os.chmod(d.sock, 0o666)  # as if nobody were in group uvdpa
    d.cli("dev", "add", "name", "n", "mgmtdev", "vdpasim_net", check=0)
    assert d.cli("dev", "show", user="nobody", check=0).stdout.startswith("n:")
    d.cli("mgmtdev", "show", user="nobody", check=0)
    d.cli("dev", "config", "show", user="nobody", check=0)
    for args in (("dev", "add", "name", "m", "mgmtdev", "vdpasim_blk"),
                 ("dev", "del", "n"),
                 ("dev", "set", "name", "n", "mac", "52:54:00:00:00:01")):
        p = d.cli(*args, user="nobody", check=1)
        assert p.stderr.endswith("kernel answers: Operation not permitted\n")
    assert d.cli("dev", "show", check=0).stdout.startswith("n:")


def test_hundred_clis_at_once(d):
    def one(i):
        name = "par%03d" % i
        a = d.cli("dev", "add", "name", name, "mgmtdev",
                  "vdpasim_net" if i % 2 else "vdpasim_blk")
        s = d.cli("dev", "show", name)
        x = d.cli("dev", "del", name)
        return a.returncode, s.returncode, name in s.stdout, x.returncode

    with concurrent.futures.ThreadPoolExecutor(100) as pool:
        results = list(pool.map(one, range(100)))
    assert all(r == (0, 0, True, 0) for r in results), results
    assert d.cli("dev", "show", check=0).stdout == ""
