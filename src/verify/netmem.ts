/**
 * `netmem_ref` tagging and the struct page / net_iov / netmem_desc overlay (include/net/netmem.h).
 *
 * A netmem_ref is a `struct page *` or, with bit 0 (NET_IOV) set, a `struct net_iov *`. That only
 * works while bit 0 of every such pointer is 0: struct pages are an array of 64-byte (lp64) structs,
 * net_iovs a kvmalloc'd array of 8-byte-aligned structs. For every pointer:
 *   page:    netmem_is_net_iov(page_to_netmem(p)) == false, __netmem_clear_lsb(ref) == p
 *   net_iov: netmem_is_net_iov(net_iov_to_netmem(n)) == true, __netmem_clear_lsb(ref) == n
 *
 * The page_pool then reads `pp_magic`, `pp`, `dma_addr`, `pp_ref_count` through
 * `__netmem_clear_lsb(ref)` without knowing which of the two it is, so the offsets must agree; the
 * kernel static_asserts each pair (NETMEM_DESC_ASSERT_OFFSET, NET_IOV_ASSERT_OFFSET) and that
 * netmem_desc ends before `_refcount`. The check replays those asserts on the emulator's layouts.
 */
import { NETMEM_DESC_ASSERT_PAIRS } from "../pool/nmdesc.js";
import { type Arch, type ArchName, type PageSizeName, ARCHES, PAGE_SHIFT_OF } from "../arch.js";
import { type StructLayout, layoutOf, offsetOf } from "../mem/ctype.js";
import { DIRECT_MAP_HI, VMEMMAP_HI } from "../mem/page.js";
import { STRUCT_NET_IOV, STRUCT_NETMEM_DESC, STRUCT_PAGE } from "../mem/structs.js";
import { type U64, u64 } from "../u64.js";
import { type CheckResult, ctz32, fail, pass, hexHiLo } from "./result.js";

/** include/net/netmem.h: `NET_IOV = 0x01`. */
export const NET_IOV = 0x1;

/** 2 GiB of RAM: its memmap is what the page-pointer sweep covers. */
export const MEMMAP_RAM_BYTES = 2 ** 31;
/** net_iovs swept: one 256 MiB dma-buf binding in 4 KiB chunks. */
export const NET_IOV_COUNT = 65536;

export interface NetmemRefInput {
  readonly arch: Arch;
  readonly label: string;
  readonly NET_IOV: number;
  /** `&mem_map[0]` / vmemmap base. */
  readonly pageBase: U64;
  readonly pageStructSize: number;
  readonly nPages: number;
  /** `&niovs[0]`: kvmalloc'd, so only ARCH_KMALLOC_MINALIGN (8) aligned. */
  readonly netIovBase: U64;
  readonly netIovSize: number;
  readonly nNetIovs: number;
}

export function netmemRefInput(arch: Arch, pageSize: PageSizeName): NetmemRefInput {
  const lp64 = arch.BITS_PER_LONG === 64;
  return {
    arch,
    label: `${arch.name} ${pageSize}`,
    NET_IOV,
    pageBase: lp64 ? u64(VMEMMAP_HI, 0) : u64(0, 0xc1000000),
    pageStructSize: layoutOf(STRUCT_PAGE, arch).size,
    nPages: MEMMAP_RAM_BYTES / 2 ** PAGE_SHIFT_OF[pageSize],
    netIovBase: lp64 ? u64(DIRECT_MAP_HI, 0x10000008) : u64(0, 0xc8000008),
    netIovSize: layoutOf(STRUCT_NET_IOV, arch).size,
    nNetIovs: NET_IOV_COUNT,
  };
}

/**
 * Sweep `n` pointers `base + i * size` ({hi, lo} with carry on lp64, wrapping on ilp32), tag each as
 * the kernel does, untag it, and test bit 0. Returns the first failing index and why, or null; the
 * smallest number of free low bits seen goes into `minCtz[0]`.
 */
function sweep(
  input: NetmemRefInput,
  base: U64,
  size: number,
  n: number,
  isNetIov: boolean,
  minCtz: Int32Array,
): { i: number; why: string } | null {
  const lp64 = input.arch.BITS_PER_LONG === 64;
  const bits = input.arch.BITS_PER_LONG;
  const tag = input.NET_IOV;
  let z = 32;
  for (let i = 0; i < n; i++) {
    const sum = base.lo + i * size;
    const lo = sum >>> 0;
    const hi = lp64 ? (base.hi + Math.floor(sum / 2 ** 32)) >>> 0 : 0;
    // page_to_netmem() is a cast; net_iov_to_netmem() ORs NET_IOV.
    const refLo = isNetIov ? (lo | tag) >>> 0 : lo;
    const tagged = (refLo & tag) !== 0;
    if (tagged !== isNetIov) {
      return {
        i,
        why: `${isNetIov ? "net_iov" : "struct page"} #${i} at ${hexHiLo(hi, lo, bits)}: netmem_is_net_iov() = ${tagged}`,
      };
    }
    const clearLo = (refLo & ~tag) >>> 0;
    if (clearLo !== lo) {
      return {
        i,
        why:
          `${isNetIov ? "net_iov" : "struct page"} #${i} at ${hexHiLo(hi, lo, bits)}: ` +
          `__netmem_clear_lsb(${hexHiLo(hi, refLo, bits)}) = ${hexHiLo(hi, clearLo, bits)}, bit 0 of the pointer was lost`,
      };
    }
    const c = ctz32(lo);
    if (c < z) z = c;
  }
  minCtz[0] = z;
  return null;
}

/** NET_IOV bit 0 round-trips over every struct page of a 2 GiB memmap and a range of net_iovs. */
export function checkNetmemRefs(input: NetmemRefInput): CheckResult {
  const name = `netmem ${input.label} NET_IOV bit 0`;
  const covered = input.nPages + input.nNetIovs;
  const unit = `pointers (${input.nPages} struct pages of a 2 GiB memmap + ${input.nNetIovs} net_iovs)`;
  const zp = new Int32Array(1);
  const zn = new Int32Array(1);
  const p = sweep(input, input.pageBase, input.pageStructSize, input.nPages, false, zp);
  if (p) return fail("netmem", name, covered, unit, p.why);
  const q = sweep(input, input.netIovBase, input.netIovSize, input.nNetIovs, true, zn);
  if (q) return fail("netmem", name, covered, unit, q.why);
  return pass("netmem", name, covered, unit, [
    `struct page (${input.pageStructSize} B) pointers are ${2 ** Math.min(zp[0]!, 31)}-aligned, ` +
      `net_iov (${input.netIovSize} B) pointers ${2 ** Math.min(zn[0]!, 31)}-aligned: bit 0 is free in both`,
  ]);
}

/** The three layouts whose offsets the kernel pins to each other. */
export interface NetmemLayoutInput {
  readonly arch: Arch;
  readonly page: StructLayout;
  readonly desc: StructLayout;
  readonly netIov: StructLayout;
}

export function netmemLayoutInput(arch: Arch): NetmemLayoutInput {
  return {
    arch,
    page: layoutOf(STRUCT_PAGE, arch),
    desc: layoutOf(STRUCT_NETMEM_DESC, arch),
    netIov: layoutOf(STRUCT_NET_IOV, arch),
  };
}

/** NETMEM_DESC_ASSERT_OFFSET(page member, netmem_desc member), v6.17 netmem.h (declared in src/pool/nmdesc.ts). */
export const NETMEM_DESC_ASSERTS = NETMEM_DESC_ASSERT_PAIRS;

/** NET_IOV_ASSERT_OFFSET(netmem_desc member, net_iov member), v6.17 netmem.h. */
export const NET_IOV_ASSERTS: readonly (readonly [string, string])[] = [
  ["_flags", "_flags"],
  ["pp_magic", "pp_magic"],
  ["pp", "pp"],
  ["_pp_mapping_pad", "_pp_mapping_pad"],
  ["dma_addr", "dma_addr"],
  ["pp_ref_count", "pp_ref_count"],
];

function off(l: StructLayout, path: string): number | undefined {
  return l.off[path];
}

/** Replay the kernel's static_asserts on the emulator's layouts for one arch. */
export function checkNetmemLayout(input: NetmemLayoutInput): CheckResult {
  const name = `netmem ${input.arch.name} page/net_iov/netmem_desc offsets`;
  const covered = NETMEM_DESC_ASSERTS.length + NET_IOV_ASSERTS.length + 1;
  const unit = "static_asserts (NETMEM_DESC_ASSERT_OFFSET ×6, NET_IOV_ASSERT_OFFSET ×6, sizeof <= _refcount)";
  const { page, desc, netIov } = input;
  for (const [pm, dm] of NETMEM_DESC_ASSERTS) {
    const a = off(page, pm);
    const b = off(desc, dm);
    if (a === undefined || b === undefined || a !== b) {
      return fail("netmem", name, covered, unit, `offsetof(struct page, ${pm}) = ${a} != offsetof(struct netmem_desc, ${dm}) = ${b}`);
    }
  }
  for (const [dm, im] of NET_IOV_ASSERTS) {
    const a = off(desc, dm);
    const b = off(netIov, im);
    if (a === undefined || b === undefined || a !== b) {
      return fail("netmem", name, covered, unit, `offsetof(struct netmem_desc, ${dm}) = ${a} != offsetof(struct net_iov, ${im}) = ${b}`);
    }
  }
  const refcount = offsetOf(page, "_refcount");
  if (desc.size > refcount) {
    return fail("netmem", name, covered, unit, `sizeof(struct netmem_desc) = ${desc.size} > offsetof(struct page, _refcount) = ${refcount}`);
  }
  const pairs = NETMEM_DESC_ASSERTS.map(([pm]) => `${pm}@${off(page, pm)}`).join(" ");
  return pass("netmem", name, covered, unit, [
    `${pairs}; sizeof(netmem_desc) ${desc.size} <= _refcount@${refcount}; sizeof(net_iov) ${netIov.size}`,
  ]);
}

export function verifyNetmem(
  arches: readonly ArchName[] = ["lp64", "ilp32"],
  pageSizes: readonly PageSizeName[] = ["4k", "16k", "64k"],
): CheckResult[] {
  const out: CheckResult[] = [];
  for (const a of arches) {
    out.push(checkNetmemLayout(netmemLayoutInput(ARCHES[a])));
    for (const ps of pageSizes) out.push(checkNetmemRefs(netmemRefInput(ARCHES[a], ps)));
  }
  return out;
}
