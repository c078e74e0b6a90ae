import { describe, expect, it } from "vitest";
import { ILP32, LP64 } from "../../src/arch.js";
import { array, layoutOf, m, ptr, struct, union, U8, U32, ULONG, INT } from "../../src/mem/ctype.js";
import { pahole } from "../../src/mem/pahole.js";
import {
  STRUCT_NET_IOV,
  STRUCT_PAGE,
  STRUCT_PAGE_POOL_ITEM,
  STRUCT_PAGE_POOL_ITEM_BLOCK_V11,
  STRUCT_PTR_RING,
  STRUCT_XA_NODE,
} from "../../src/mem/structs.js";

// Tabs written as \t so the expected text is unambiguous.
const lines = (...l: string[]) => l.join("\n") + "\n";

describe("pahole -C output", () => {
  it("page_pool_item_block v11, lp64 (as quoted on netdev)", () => {
    expect(pahole(layoutOf(STRUCT_PAGE_POOL_ITEM_BLOCK_V11, LP64))).toBe(
      lines(
        "struct page_pool_item_block {",
        "\tstruct page_pool *         pp;                   /*     0     8 */",
        "\tstruct list_head           list;                 /*     8    16 */",
        "\tunsigned int               flags;                /*    24     4 */",
        "\trefcount_t                 ref;                  /*    28     4 */",
        "\tstruct page_pool_item      items[];              /*    32     0 */",
        "",
        "\t/* size: 32, cachelines: 1, members: 5 */",
        "\t/* last cacheline: 32 bytes */",
        "};",
      ),
    );
  });

  it("struct page, lp64: anonymous unions inline", () => {
    expect(pahole(layoutOf(STRUCT_PAGE, LP64))).toBe(
      lines(
        "struct page {",
        "\tlong unsigned int          flags;                /*     0     8 */",
        "\tlong unsigned int          pp_magic;             /*     8     8 */",
        "\tunion {",
        "\t\tstruct page_pool * pp;                   /*    16     8 */",
        "\t\tstruct page_pool_item * pp_item;         /*    16     8 */",
        "\t};                                               /*    16     8 */",
        "\tlong unsigned int          _pp_mapping_pad;      /*    24     8 */",
        // include/linux/mm_types.h: `unsigned long dma_addr;` (not dma_addr_t).
        "\tlong unsigned int          dma_addr;             /*    32     8 */",
        "\tatomic_long_t              pp_ref_count;         /*    40     8 */",
        "\tunion {",
        "\t\tatomic_t           _mapcount;            /*    48     4 */",
        "\t\tunsigned int       page_type;            /*    48     4 */",
        "\t};                                               /*    48     4 */",
        "\tatomic_t                   _refcount;            /*    52     4 */",
        "\tlong unsigned int          memcg_data;           /*    56     8 */",
        "",
        "\t/* size: 64, cachelines: 1, members: 9 */",
        "};",
      ),
    );
  });

  it("page_pool_item: a union of netmem_ref and llist_node", () => {
    expect(pahole(layoutOf(STRUCT_PAGE_POOL_ITEM, LP64))).toBe(
      lines(
        "struct page_pool_item {",
        "\tlong unsigned int          state;                /*     0     8 */",
        "\tunion {",
        "\t\tnetmem_ref         pp_netmem;            /*     8     8 */",
        "\t\tstruct llist_node  lentry;               /*     8     8 */",
        "\t};                                               /*     8     8 */",
        "",
        "\t/* size: 16, cachelines: 1, members: 2 */",
        "\t/* last cacheline: 16 bytes */",
        "};",
      ),
    );
  });

  it("ptr_ring: holes, cache line boundaries, forced alignments", () => {
    expect(pahole(layoutOf(STRUCT_PTR_RING, LP64))).toBe(
      lines(
        "struct ptr_ring {",
        "\tint                        producer __attribute__((__aligned__(64))); /*     0     4 */",
        "\tspinlock_t                 producer_lock;        /*     4     4 */",
        "",
        "\t/* XXX 56 bytes hole, try to pack */",
        "",
        "\t/* --- cacheline 1 boundary (64 bytes) --- */",
        "\tint                        consumer_head __attribute__((__aligned__(64))); /*    64     4 */",
        "\tint                        consumer_tail;        /*    68     4 */",
        "\tspinlock_t                 consumer_lock;        /*    72     4 */",
        "",
        "\t/* XXX 52 bytes hole, try to pack */",
        "",
        "\t/* --- cacheline 2 boundary (128 bytes) --- */",
        "\tint                        size __attribute__((__aligned__(64))); /*   128     4 */",
        "\tint                        batch;                /*   132     4 */",
        "\tvoid * *                   queue;                /*   136     8 */",
        "",
        "\t/* size: 192, cachelines: 3, members: 8 */",
        "\t/* sum members: 36, holes: 2, sum holes: 108 */",
        "\t/* padding: 48 */",
        "\t/* forced alignments: 3, forced holes: 2, sum forced holes: 108 */",
        "} __attribute__((__aligned__(64)));",
      ),
    );
  });

  it("xa_node: a hole, and a boundary crossed inside slots", () => {
    const text = pahole(layoutOf(STRUCT_XA_NODE, LP64));
    expect(text).toContain(
      "\tunsigned char              nr_values;            /*     3     1 */\n\n\t/* XXX 4 bytes hole, try to pack */\n\n\tstruct xa_node *           parent;",
    );
    expect(text).toContain("\t\tstruct callback_head rcu_head;           /*    24    16 */\n");
    expect(text).toContain("\tvoid *                     slots[64];            /*    40   512 */\n");
    expect(text).toContain("\t/* --- cacheline 8 boundary (512 bytes) was 40 bytes ago --- */\n\tunion {\n");
    expect(text).toContain("\t\tlong unsigned int  marks[3][1];          /*   552    24 */\n");
    expect(text).toContain("\t/* size: 576, cachelines: 9, members: 9 */\n\t/* sum members: 572, holes: 1, sum holes: 4 */\n};\n");
  });

  it("net_iov: an anonymous struct inside an anonymous union", () => {
    const text = pahole(layoutOf(STRUCT_NET_IOV, LP64));
    expect(text).toContain(
      [
        "\tunion {",
        "\t\tstruct netmem_desc desc;                 /*     0    48 */",
        "\t\tstruct {",
        "\t\t\tlong unsigned int _flags;        /*     0     8 */",
      ].join("\n"),
    );
    expect(text).toContain("\t\t\tatomic_long_t pp_ref_count;      /*    40     8 */\n\t\t};                                       /*     0    48 */\n");
    expect(text).toContain("\t};                                               /*     0    48 */\n");
    // enum net_iov_type ends in NET_IOV_MAX = ULONG_MAX: 8 bytes on lp64, so no tail padding.
    expect(text).toContain("\tenum net_iov_type          type;                 /*    56     8 */\n\n\t/* size: 64, cachelines: 1, members: 3 */\n};\n");
  });

  it("aliases as trailing comments, only when asked", () => {
    const l = layoutOf(STRUCT_PAGE, ILP32);
    expect(pahole(l)).not.toContain("lru.next");
    const text = pahole(l, { aliases: true });
    expect(text).toContain("\tlong unsigned int          pp_magic;             /*     4     4 */ /* lru.next / compound_head */\n");
    expect(text).toContain("\t};                                               /*     8     4 */ /* lru.prev */\n");
    expect(text).toContain("\t/* size: 32, cachelines: 1, members: 8 */\n\t/* last cacheline: 32 bytes */\n");
  });

  it("member struct types with holes and padding, holes inside an inline struct", () => {
    const inner = struct("inner", [m("a", U8), m("b", ULONG), m("c", U32)]);
    const outer = struct("outer", [
      m("x", inner),
      m("y", U8),
      m("", struct("", [m("p", U8), m("q", INT)])),
      m("z", array(U8, 0)),
    ]);
    expect(pahole(layoutOf(outer, LP64))).toBe(
      lines(
        "struct outer {",
        "\tstruct inner               x;                    /*     0    24 */",
        "",
        "\t/* XXX last struct has 4 bytes of padding, 1 hole */",
        "",
        "\tu8                         y;                    /*    24     1 */",
        "",
        "\t/* XXX 3 bytes hole, try to pack */",
        "",
        "\tstruct {",
        "\t\tu8                 p;                    /*    28     1 */",
        "",
        "\t\t/* XXX 3 bytes hole, try to pack */",
        "",
        "\t\tint                q;                    /*    32     4 */",
        "\t};                                               /*    28     8 */",
        "",
        "\t/* XXX last struct has 1 hole */",
        "",
        "\tu8                         z[];                  /*    36     0 */",
        "",
        "\t/* size: 40, cachelines: 1, members: 4 */",
        "\t/* sum members: 33, holes: 1, sum holes: 3 */",
        "\t/* padding: 4 */",
        "\t/* member types with holes: 2, total: 2 */",
        "\t/* paddings: 1, sum paddings: 4 */",
        "\t/* last cacheline: 40 bytes */",
        "};",
      ),
    );
  });

  it("a flexible array as the only member prints [0]; function pointers keep their shape", () => {
    const only = struct("only", [m("data", array(U8, 0))]);
    expect(pahole(layoutOf(only, LP64))).toContain("\tu8                         data[0];              /*     0     0 */\n");
    const cb = struct("callback_head", [m("next", ptr("struct callback_head")), m("func", ptr("void (*)(struct callback_head *)"))]);
    expect(pahole(layoutOf(cb, LP64))).toContain("\tvoid                       (*func)(struct callback_head *); /*     8     8 */\n");
  });

  it("a member straddling a boundary, and a long type name", () => {
    const s = struct("wide", [m("a", array(U8, 60)), m("b", ULONG), m("c", ptr("struct page_pool_item_block"))]);
    const text = pahole(layoutOf(s, LP64));
    expect(text).toContain("\t/* --- cacheline 1 boundary (64 bytes) --- */\n\tlong unsigned int          b;");
    expect(text).toContain("\tstruct page_pool_item_block * c;                 /*    72     8 */\n");
    const u = union("u", [m("a", U32)]);
    // A top-level union's name column is 21 wide (tag__fprintf), not 23.
    expect(pahole(layoutOf(u, LP64))).toBe("union u {\n\tu32                        a;                  /*     0     4 */\n};\n");
  });
});
