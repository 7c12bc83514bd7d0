#!/usr/bin/env python3
#
# Functional test: values of barN-wc that QOM, qdev and the JSON parser
# refuse before the series' code sees them.
#
# Copyright (c) 2026 QEMU arm64 WC project
#
# SPDX-License-Identifier: GPL-2.0-or-later
"""
The project's own bad-input cases for barN-wc that exercise generic code:
QAPI's OnOffAuto parsing (wrong JSON types, spellings, a 100,000-character
string) and qdev's property lookup.  They pass on any QEMU that has the
properties, so they are not the series' test: they guard that a device
refused this way leaves nothing behind and QEMU running.

Runs with the series' tests/functional/aarch64 on PYTHONPATH, for its
server and helpers, and QEMU_BUILD_ROOT's tests/vfio-user-wc-server.
"""

from qemu_test import QemuSystemTest
# A module, so that its test class is not collected here.
import test_vfio_user_bar_wc as series_test


class BarWcBadInput(QemuSystemTest):
    """device_add with values that QOM refuses."""

    timeout = 180
    launch = series_test.VfioUserBarWc.launch
    assert_refused = series_test.VfioUserBarWc.assert_refused

    def setUp(self):
        super().setUp()
        self.set_machine('virt')
        self.require_device('vfio-user-pci')

    def test_bad_values(self):
        """Each value and property name that QOM refuses."""
        server = series_test.VfioUserWcServer(self)
        vm = self.launch('-device', 'pcie-root-port,id=rp0,chassis=1')
        wrong_type = "Invalid parameter type for 'bar2-wc', expected: string"
        huge = 'x' * 100000
        self.assert_refused(vm, server, [
            ({'bar2-wc': 1}, wrong_type),
            ({'bar2-wc': True}, wrong_type),
            ({'bar2-wc': None}, wrong_type),
            ({'bar2-wc': {}}, wrong_type),
            ({'bar2-wc': ['on']}, wrong_type),
            ({'bar2-wc': ''}, "Parameter 'bar2-wc' does not accept value ''"),
            ({'bar2-wc': huge},
             f"Parameter 'bar2-wc' does not accept value '{huge}'"),
            ({'bar2-wc': 'maybe'},
             "Parameter 'bar2-wc' does not accept value 'maybe'"),
            ({'bar2-wc': 'ON'},
             "Parameter 'bar2-wc' does not accept value 'ON'"),
            ({'bar2-wc': 'on '},
             "Parameter 'bar2-wc' does not accept value 'on '"),
            ({'bar6-wc': 'on'}, "Property 'vfio-user-pci.bar6-wc' not found"),
        ])


if __name__ == '__main__':
    QemuSystemTest.main()
