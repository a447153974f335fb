/* SPDX-License-Identifier: Apache-2.0 */
/* What may go to privsep-helper (helper/forward.c): storage names never do. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../helper/forward.h"
#include "../../protocol/privsep.h"

static bool
storage(const char *name)
{
	return forward_is_storage_name(name, strlen(name));
}

/* Nova 26's nine storage entrypoints, and storage names nobody serves. */
Test(forward, storage_names_are_never_forwarded)
{
	static const char *const names[] = {
		"nova.privsep.fs.vginfo",
		"nova.privsep.fs.lvcreate",
		"nova.privsep.fs.lvlist",
		"nova.privsep.fs.lvinfo",
		"nova.privsep.fs.lvremove",
		"nova.privsep.libvirt.dmcrypt_create_volume",
		"nova.privsep.libvirt.dmcrypt_delete_volume",
		"nova.privsep.fs.create_device_maps",
		"nova.privsep.fs.remove_device_maps",
		"nova.privsep.fs.lvcreate_all",
		"nova.privsep.fs.pvcreate",
		"nova.privsep.fs.luks_cryptsetup",
		"ephcrypt.version",
		"ephcrypt.no_such_thing",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_expect(storage(names[i]), "%s must count as a storage name", names[i]);
}

/* policy/examples/nova.conf [forward]'s names, and others Nova has. */
Test(forward, other_names_may_be_forwarded)
{
	static const char *const names[] = {
		"nova.privsep.qemu.convert_image",
		"nova.privsep.fs.e2fsck",
		"nova.privsep.fs.resize2fs",
		"nova.privsep.fs.mkfs",
		"nova.privsep.path.last_bytes",
		"nova.privsep.libvirt.readpty",
		"nova.privsep.path.utime",
		"nova.privsep.path.writefile",
		"nova.privsep.fs._inner_configurable_mkfs",
		"nova.privsep.fs.loopsetup",
		"nova.privsep.libvirt.plug_plumgrid_vif",

		"nova.privsep.libvirt.cleanup_vpmem",
		"nova.privsep.fs.blockdev_flush",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_expect(!storage(names[i]), "%s must not count as a storage name", names[i]);
	/* a word starting with lv anywhere in the function name */
	cr_expect(storage("nova.privsep.fs.resolve_lv"));
	/* the module part does not count, only the function */
	cr_expect(!storage("nova.privsep.lvm_tools.flush"));
}

/* The bytes the caller gets: privsep-helper's NameError, word for word. */
Test(forward, refusal_is_privsep_helpers_name_error)
{
	static const char name[] = "nova.privsep.path.writefile";
	struct mp_frame *id = NULL, *f = NULL;
	struct mp_buf b;
	struct ps_msg m;

	cr_assert_eq(mp_decode((const uint8_t *)"\xa3"
						"abc",
			       4, NULL, &id),
		     MP_OK);
	mp_buf_init(&b, 4096);
	cr_assert_eq(forward_refusal(&b, id->root, name, strlen(name)), 0);
	cr_assert_eq(mp_decode(b.data, b.len, NULL, &f), MP_OK);
	cr_assert_eq(ps_parse(f->root, &m), PS_OK);
	cr_expect(m.kind == PS_ERR && mp_str_eq(m.msgid, "abc"));
	cr_expect(mp_str_eq(m.name, "builtins.NameError"));
	cr_assert_eq(m.args->len, 1);
	cr_expect(mp_str_eq(&m.args->v.items[0],
			    "Invalid privsep function: nova.privsep.path.writefile not exported"));
	mp_frame_free(f);
	mp_frame_free(id);
	mp_buf_free(&b);
}
