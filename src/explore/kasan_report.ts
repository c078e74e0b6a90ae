/**
 * The text of a KASAN report, in the kernel's words (mm/kasan/report.c print_report(),
 * mm/kasan/report_generic.c get_shadow_bug_type(), mm/page_owner.c __dump_page_owner()):
 *
 *   ==================================================================
 *   BUG: KASAN: slab-use-after-free in page_pool_recycle_in_ring
 *   Write of size 8 at addr ffff88800012c440 by task ppemu/1
 *
 *   Allocated by task 0 on cpu 0:
 *    kmem_cache_alloc
 *
 *   Freed by task 0 on cpu 0:
 *    kmem_cache_free
 *
 *   The buggy address belongs to the object at ffff88800012c400
 *    which belongs to the cache kmalloc-2k of size 2048
 *   The buggy address is located 64 bytes inside of
 *    freed 2048-byte region [ffff88800012c400, ffff88800012cc00)
 *
 *   Memory state around the buggy address:
 *    ffff88800012c300: fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb
 *    …
 *   >ffff88800012c400: fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb
 *                                             ^
 *    …
 *   ==================================================================
 *
 * What the emulator cannot know is left out rather than made up: there are no stack traces (a
 * track's "stack" is its one site, the explorer's trace has the rest), so dump_stack()'s CPU line
 * and Call Trace are not printed; a track has no timestamp (CONFIG_KASAN_EXTRA_INFO's "at
 * <sec>.<usec>s"); page_owner's line has no migratetype, gfp mask or times. A task is the program
 * of one CPU: comm "ppemu", pid = the CPU number. Addresses print as %px does, 16 hex digits: the
 * direct map (ffff8880…) for memory, the vmemmap (ffffea00…) for the memmap.
 */
import {
  KASAN_GRANULE_SIZE,
  KASAN_LARGE_KMALLOC,
  KASAN_PAGE_FREE,
  KASAN_PAGE_REDZONE,
  KASAN_SHADOW_SCALE_SHIFT,
  KASAN_SLAB_FREE,
  KASAN_SLAB_REDZONE,
  KasanRec,
  siteName,
  type KasanRecord,
  type KasanShadow,
} from "./kasan.js";
import { DIRECT_MAP_HI, VMEMMAP_HI, PAGE_TYPE, PAGE_MAPPING, PAGE_INDEX, PAGE_REFCOUNT } from "../mem/page.js";
import { PAGE_TYPE_SLAB } from "../mem/slab.js";

const RULE = "==================================================================";
/** META_BYTES_PER_ROW, META_MEM_BYTES_PER_ROW, META_ROWS_AROUND_ADDR (mm/kasan/kasan.h). */
const META_BYTES_PER_ROW = 16;
// (kasan.ts imports this module: nothing from it may be read at load time, hence the literal 8.)
const META_MEM_BYTES_PER_ROW = META_BYTES_PER_ROW * 8;
const META_ROWS_AROUND_ADDR = 2;
const TASK_COMM = "ppemu";

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

/** `%px` of a machine address. */
export function kasanPtr(sh: KasanShadow, addr: number): string {
  if (addr >= 0 && addr < sh.nullLimit) return "00000000" + hex8(addr); // NULL + offset
  const hi = addr < sh.memmapBytes ? VMEMMAP_HI : DIRECT_MAP_HI;
  return hex8(hi + Math.floor(addr / 0x1_0000_0000)) + hex8(addr);
}

/** kasan_find_first_bad_addr() (Generic): step by a granule from `addr` while the shadow is 0. */
function firstBadAddr(sh: KasanShadow, addr: number, size: number): number {
  let p = addr;
  while (p < addr + size && p + KASAN_GRANULE_SIZE <= sh.machineBytes && sh.shadowByte(p) === 0) p += KASAN_GRANULE_SIZE;
  return Math.min(p, sh.machineBytes - 1);
}

/** get_shadow_bug_type(). */
function shadowBugType(sh: KasanShadow, firstBad: number): string {
  let s = sh.shadowByte(firstBad);
  // A partly accessible granule: the next one says what lies past the object.
  if (s > 0 && s <= KASAN_GRANULE_SIZE - 1 && firstBad + KASAN_GRANULE_SIZE < sh.machineBytes) s = sh.shadowByte(firstBad + KASAN_GRANULE_SIZE);
  if (s < KASAN_GRANULE_SIZE) return "out-of-bounds";
  switch (s) {
    case KASAN_PAGE_REDZONE:
    case KASAN_SLAB_REDZONE:
      return "slab-out-of-bounds";
    case KASAN_PAGE_FREE:
      return "use-after-free";
    case KASAN_SLAB_FREE:
    case 0xfa: // KASAN_SLAB_FREE_META
      return "slab-use-after-free";
    default:
      return "unknown-crash";
  }
}

interface ObjectInfo {
  readonly object: number;
  readonly cache: number;
  readonly cacheName: string;
  readonly objectSize: number;
}

const isSlabRec = (r: KasanRecord): boolean => (r.kind === KasanRec.SLAB_ALLOC || r.kind === KasanRec.SLAB_FREE) && r.cache !== KASAN_LARGE_KMALLOC;
const isPageRec = (r: KasanRecord): boolean => r.kind === KasanRec.PAGE_ALLOC || r.kind === KasanRec.PAGE_FREE;

function cacheNameOf(sh: KasanShadow, cache: number): string {
  const m = sh.machine;
  return m !== undefined && cache > KASAN_LARGE_KMALLOC ? m.slab.cacheName(cache) : "?";
}

/**
 * kasan_addr_to_slab() + nearest_obj(): the object `addr` falls in, from the live slab when the
 * machine says there is one, else (a freed object whose slab went back to the page allocator) from
 * the newest slab record that covers it while its shadow still says freed.
 */
function findObject(sh: KasanShadow, addr: number, firstBad: number): ObjectInfo | null {
  const m = sh.machine;
  if (m !== undefined) {
    const head = m.pa.compoundHead(m.mem.virtToPage(addr));
    if (m.mem.rd32(head + PAGE_TYPE) === PAGE_TYPE_SLAB) {
      const cache = m.mem.rd32(head + PAGE_MAPPING);
      const st = m.slab.cacheStats(cache);
      const base = m.mem.pageAddress(head);
      const index = Math.min(Math.floor((addr - base) / st.size), st.objsPerSlab - 1);
      return { object: base + index * st.size, cache, cacheName: st.name, objectSize: st.objSize };
    }
  }
  if (sh.shadowByte(firstBad) !== KASAN_SLAB_FREE) return null;
  const rec = sh.findRecord((r) => isSlabRec(r) && addr >= r.start && addr < r.start + r.size);
  if (rec === null) return null;
  const objectSize = m !== undefined && rec.cache > KASAN_LARGE_KMALLOC ? m.slab.cacheStats(rec.cache).objSize : rec.size;
  return { object: rec.start, cache: rec.cache, cacheName: cacheNameOf(sh, rec.cache), objectSize };
}

/** kasan_get_alloc_size() (Generic): accessible bytes from the object's start; 0 for a freed one. */
function allocSize(sh: KasanShadow, obj: ObjectInfo): number {
  let size = 0;
  while (size < obj.objectSize) {
    const s = sh.shadowByte(obj.object + size);
    if (s === 0) size += KASAN_GRANULE_SIZE;
    else if (s < KASAN_GRANULE_SIZE) return size + s;
    else return size;
  }
  return obj.objectSize;
}

/** print_track() without the stack depot: the record's site is its one frame. */
function printTrack(out: string[], r: KasanRecord, prefix: string): void {
  out.push(`${prefix} by task ${r.cpu} on cpu ${r.cpu}:`, ` ${siteName(r.site)}`, "");
}

/** describe_object(): the tracks, then describe_object_addr(). */
function describeObject(sh: KasanShadow, out: string[], addr: number, obj: ObjectInfo, bugType: string): void {
  const newest = sh.findRecord((r) => isSlabRec(r) && r.start === obj.object);
  if (newest !== null && newest.kind === KasanRec.SLAB_FREE) {
    const alloc = sh.findRecord((r) => r.kind === KasanRec.SLAB_ALLOC && isSlabRec(r) && r.start === obj.object);
    if (alloc !== null) printTrack(out, alloc, "Allocated");
    printTrack(out, newest, "Freed");
  } else if (newest !== null) {
    printTrack(out, newest, "Allocated");
  }
  const size = allocSize(sh, obj) || obj.objectSize;
  let relType: string;
  let relBytes: number;
  if (addr < obj.object) {
    relType = "to the left";
    relBytes = obj.object - addr;
  } else if (addr >= obj.object + size) {
    relType = "to the right";
    relBytes = addr - (obj.object + size);
  } else {
    relType = "inside";
    relBytes = addr - obj.object;
  }
  const state = bugType === "slab-out-of-bounds" ? "allocated " : bugType === "slab-use-after-free" ? "freed " : "";
  out.push(
    `The buggy address belongs to the object at ${kasanPtr(sh, obj.object)}`,
    ` which belongs to the cache ${obj.cacheName} of size ${obj.objectSize}`,
    `The buggy address is located ${relBytes} bytes ${relType} of`,
    ` ${state}${size}-byte region [${kasanPtr(sh, obj.object)}, ${kasanPtr(sh, obj.object + size)})`,
    "",
  );
}

/** "The buggy address belongs to the physical page:": dump_page()'s first line and page_owner. */
function describePage(sh: KasanShadow, out: string[], addr: number): void {
  out.push("The buggy address belongs to the physical page:");
  const m = sh.machine;
  if (m !== undefined) {
    const mem = m.mem;
    const page = mem.virtToPage(addr);
    const head = m.pa.compoundHead(page);
    const mapping = hex8(mem.rd64hi(head + PAGE_MAPPING)) + hex8(mem.rd64lo(head + PAGE_MAPPING));
    const index = mem.rd64(head + PAGE_INDEX) + (mem.pageToPfn(page) - mem.pageToPfn(head));
    out.push(
      `page: refcount:${mem.rd32(head + PAGE_REFCOUNT) | 0} mapcount:0 mapping:${mapping} index:0x${index.toString(16)} pfn:0x${mem.virtToPfn(addr).toString(16)}`,
      "page dumped because: kasan: bad access detected",
    );
  }
  const covers = (r: KasanRecord): boolean => isPageRec(r) && addr >= r.start && addr < r.start + r.size;
  const newest = sh.findRecord(covers);
  if (newest === null) {
    out.push("page_owner info is not present (never set?)", "");
    return;
  }
  const freed = newest.kind === KasanRec.PAGE_FREE;
  out.push(`page_owner tracks the page as ${freed ? "freed" : "allocated"}`);
  const alloc = freed ? sh.findRecord((r) => covers(r) && r.kind === KasanRec.PAGE_ALLOC) : newest;
  if (alloc === null) {
    out.push("page_owner allocation stack trace missing");
  } else {
    out.push(`page last allocated via order ${alloc.cache}, pid ${alloc.cpu}, tgid ${alloc.cpu} (${TASK_COMM})`, ` ${siteName(alloc.site)}`);
  }
  const free = freed ? newest : sh.findRecord((r) => covers(r) && r.kind === KasanRec.PAGE_FREE);
  if (free === null) out.push("page_owner free stack trace missing");
  else out.push(`page last free pid ${free.cpu} tgid ${free.cpu} stack trace:`, ` ${siteName(free.site)}`);
  out.push("");
}

/** print_memory_metadata(): five rows of 16 shadow bytes around the first bad address. */
function printMemoryMetadata(sh: KasanShadow, out: string[], addr: number): void {
  out.push("Memory state around the buggy address:");
  let row = addr - (addr % META_MEM_BYTES_PER_ROW) - META_ROWS_AROUND_ADDR * META_MEM_BYTES_PER_ROW;
  for (let i = -META_ROWS_AROUND_ADDR; i <= META_ROWS_AROUND_ADDR; i++, row += META_MEM_BYTES_PER_ROW) {
    if (row < 0 || row + META_MEM_BYTES_PER_ROW > sh.machineBytes) continue;
    const bytes: string[] = [];
    for (let b = 0; b < META_BYTES_PER_ROW; b++) bytes.push(sh.shadowByte(row + b * KASAN_GRANULE_SIZE).toString(16).padStart(2, "0"));
    out.push(`${i === 0 ? ">" : " "}${kasanPtr(sh, row)}: ${bytes.join(" ")}`);
    // meta_pointer_offset(): the '^' under the first bad granule's byte, printed with "%*c".
    if (row <= addr && addr < row + META_MEM_BYTES_PER_ROW) {
      const width = 3 + 16 + ((addr - row) >>> KASAN_SHADOW_SCALE_SHIFT) * 3 + 1;
      out.push(" ".repeat(width - 1) + "^");
    }
  }
}

/** print_report() for an access kasan_check_range() found bad, between start_report()'s rules. */
export function formatAccessReport(sh: KasanShadow, addr: number, size: number, write: boolean, cpu: number, site: string): string {
  const out: string[] = [RULE];
  // addr_has_metadata(): NULL plus an offset (sh.nullLimit), or past the end of the machine.
  const wild = addr < sh.nullLimit || addr + size > sh.machineBytes;
  const firstBad = wild ? addr : firstBadAddr(sh, addr, size);
  const bugType = wild ? (addr < sh.nullLimit ? "null-ptr-deref" : "wild-memory-access") : shadowBugType(sh, firstBad);
  out.push(`BUG: KASAN: ${bugType} in ${site}`);
  out.push(`${write ? "Write" : "Read"} of size ${size} at addr ${kasanPtr(sh, addr)} by task ${TASK_COMM}/${cpu}`);
  out.push("");
  if (!wild) {
    const obj = findObject(sh, addr, firstBad);
    if (obj !== null) describeObject(sh, out, addr, obj, bugType);
    else describePage(sh, out, addr);
    printMemoryMetadata(sh, out, firstBad);
  }
  out.push(RULE);
  return out.join("\n");
}
