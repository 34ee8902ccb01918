# Symbols for test_index's elf_syms cases: several names at one address,
# of types FUNC, OBJECT and NOTYPE, global, weak and local, sized and
# sizeless, and symbols inside others.
	.text
	.p2align 4
# block A: three FUNC aliases (global, weak, local) of 16 bytes, a sized
# OBJECT of 32 bytes and a sizeless NOTYPE label, all at one address.
	.globl	zeta
	.type	zeta, @function
	.weak	alpha
	.type	alpha, @function
	.type	mid_local, @function
	.globl	obj_a
	.type	obj_a, @object
	.globl	label_a
zeta:
alpha:
mid_local:
obj_a:
label_a:
	.fill	16, 1, 0x90
	.size	zeta, 16
	.size	alpha, 16
	.size	mid_local, 16
	.fill	16, 1, 0x90
	.size	obj_a, 32
# block B: a sizeless label after A's functions end but inside nothing
# sized, then a sized function holding a smaller sized local function
# and a label.
	.globl	gap_label
gap_label:
	.fill	16, 1, 0x90
	.globl	big
	.type	big, @function
big:
	.fill	8, 1, 0x90
	.type	inner_small, @function
inner_small:
	.fill	8, 1, 0x90
	.size	inner_small, 8
inner_label:
	.fill	16, 1, 0x90
	.size	big, 32
# block C: only sizeless names, two NOTYPE (global and weak) and a FUNC.
	.globl	nt_b
	.weak	nt_a
	.globl	fn_sizeless
	.type	fn_sizeless, @function
nt_b:
nt_a:
fn_sizeless:
	.fill	16, 1, 0x90
# block D: a sized OBJECT only, and past its end a sizeless OBJECT.
	.globl	data_only
	.type	data_only, @object
data_only:
	.fill	8, 1, 0
	.size	data_only, 8
	.globl	data_sizeless
	.type	data_sizeless, @object
	.fill	8, 1, 0
data_sizeless:
	.fill	8, 1, 0
# block E: two global FUNCs of one size at one address, the one first
# in strcmp order defined first.
	.globl	e_early
	.type	e_early, @function
	.globl	e_late
	.type	e_late, @function
e_early:
e_late:
	.fill	8, 1, 0x90
	.size	e_early, 8
	.size	e_late, 8
	.globl	end_marker
	.type	end_marker, @function
end_marker:
	ret
	.size	end_marker, .-end_marker
	.section	.note.GNU-stack,"",@progbits
