# Hand-written DWARF 4 for test_index: one function, "hostile", 128 bytes,
# whose inlined calls do not nest as DWARF says they must:
#   a      [8, 40)    in hostile
#   a_in   [12, 20)   in a (nested properly)
#   a_out  [50, 56)   a child of a, outside a's range
#   b      [32, 48)   in hostile, overlapping a's end
#   c      [60, 70)   in hostile
#   empty  [80, 80)   an empty range
#   huge   [112, 512) in hostile, past its end and the unit's
# and a function without code, "nocode", holding an inlined call
#   orphan [100, 104)
	.text
	.globl	hostile
	.type	hostile, @function
hostile:
	.fill	128, 1, 0x90
	.size	hostile, 128

	.section	.debug_abbrev,"",@progbits
.Labbrev:
	.uleb128 1		# compile unit
	.uleb128 0x11
	.byte	1
	.uleb128 0x3		# DW_AT_name
	.uleb128 0x8		# DW_FORM_string
	.uleb128 0x13		# DW_AT_language
	.uleb128 0xb		# DW_FORM_data1
	.uleb128 0x11		# DW_AT_low_pc
	.uleb128 0x1		# DW_FORM_addr
	.uleb128 0x12		# DW_AT_high_pc
	.uleb128 0x6		# DW_FORM_data4 (an offset from low_pc)
	.byte	0, 0
	.uleb128 2		# subprogram with code
	.uleb128 0x2e
	.byte	1
	.uleb128 0x3
	.uleb128 0x8
	.uleb128 0x3f		# DW_AT_external
	.uleb128 0x19		# DW_FORM_flag_present
	.uleb128 0x11
	.uleb128 0x1
	.uleb128 0x12
	.uleb128 0x6
	.byte	0, 0
	.uleb128 3		# inlined subroutine, children
	.uleb128 0x1d
	.byte	1
	.uleb128 0x3
	.uleb128 0x8
	.uleb128 0x11
	.uleb128 0x1
	.uleb128 0x12
	.uleb128 0x6
	.byte	0, 0
	.uleb128 4		# inlined subroutine, no children
	.uleb128 0x1d
	.byte	0
	.uleb128 0x3
	.uleb128 0x8
	.uleb128 0x11
	.uleb128 0x1
	.uleb128 0x12
	.uleb128 0x6
	.byte	0, 0
	.uleb128 5		# subprogram without code
	.uleb128 0x2e
	.byte	1
	.uleb128 0x3
	.uleb128 0x8
	.byte	0, 0
	.byte	0

	.section	.debug_info,"",@progbits
	.long	.Lend - .Lstart
.Lstart:
	.value	4
	.long	.Labbrev
	.byte	8
	.uleb128 1
	.string	"hostile.c"
	.byte	0xc		# DW_LANG_C99
	.quad	hostile
	.long	128
	.uleb128 2
	.string	"hostile"
	.quad	hostile
	.long	128
	.uleb128 3
	.string	"a"
	.quad	hostile + 8
	.long	32
	.uleb128 4
	.string	"a_in"
	.quad	hostile + 12
	.long	8
	.uleb128 4
	.string	"a_out"
	.quad	hostile + 50
	.long	6
	.byte	0		# end of a
	.uleb128 4
	.string	"b"
	.quad	hostile + 32
	.long	16
	.uleb128 4
	.string	"c"
	.quad	hostile + 60
	.long	10
	.uleb128 4
	.string	"empty"
	.quad	hostile + 80
	.long	0
	.uleb128 4
	.string	"huge"
	.quad	hostile + 112
	.long	400
	.byte	0		# end of hostile
	.uleb128 5
	.string	"nocode"
	.uleb128 4
	.string	"orphan"
	.quad	hostile + 100
	.long	4
	.byte	0		# end of nocode
	.byte	0		# end of the unit
.Lend:
	.section	.note.GNU-stack,"",@progbits
