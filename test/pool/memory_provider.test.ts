/**
 * net_iov pools through the devmem memory provider (src/pool/devmem.ts, memory_provider.ts,
 * net_iov.ts): page_pool_init()'s provider checks, niovs with NET_IOV set through the alloc cache and
 * the ring, never DMA-mapped by the pool, returned to the gen_pool, and the binding's refcount.
 */
import { describe, expect, it } from "vitest";
import { bootPpSystem, type PpSystem } from "../../src/pool/index.js";
import { PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV, EOPNOTSUPP, EINVAL } from "../../src/pool/page_pool.js";
import { PP_FLAG_ALLOW_UNREADABLE_NETMEM } from "../../src/pool/pool_offsets.js";
import { netdevCreate } from "../../src/pool/netdev.js";
import {
  netDevmemBindDmabuf,
  netDevmemBindDmabufToQueue,
  netDevmemUnbindDmabuf,
  devmemBindingInfo,
  forEachBinding,
  chunkOwnerGeometry,
  MP_DMABUF_DEVMEM,
  DEVMEM_DEFAULT_BASE_DMA,
} from "../../src/pool/devmem.js";
import { netMpNetmemPlaceInCache } from "../../src/pool/memory_provider.js";
import { netIovGeometry, netIovIdx, netIovOwner, NIA_NIOVS, NIA_NUM_NIOVS, PAGE_TYPE_UINT_MAX } from "../../src/pool/net_iov.js";
import { Diag } from "../../src/mem/diag.js";
import { PAGE_DMA_ADDR, PAGE_PP, PAGE_PP_MAGIC, PAGE_PP_REF_COUNT } from "../../src/mem/page.js";
import { PTR_RING_SIZE } from "../../src/pool/ptr_ring.js";
import { accounted, context, MiB } from "./helpers.js";

const PROVIDER_FLAGS = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV | PP_FLAG_ALLOW_UNREADABLE_NETMEM;

interface ProviderRig extends PpSystem {
  readonly dev: number;
  readonly netdev: number;
  readonly binding: number;
}

/** A machine of `build` with device eth0, its netdev, and a binding of `niovs` niovs on rx queue 3. */
function providerRig(build: string, niovs = 256): ProviderRig {
  const sys = bootPpSystem(build, { bytes: 16 * MiB });
  const dev = sys.dma.deviceCreate("eth0");
  const netdev = netdevCreate(sys.pps, "eth0");
  const binding = netDevmemBindDmabuf(sys.pps, { netdev, niovs });
  expect(binding).toBeGreaterThan(0);
  expect(netDevmemBindDmabufToQueue(sys.pps, binding, netdev, 3)).toBe(0);
  return { ...sys, dev, netdev, binding };
}

function providerPool(r: ProviderRig, flags = PROVIDER_FLAGS, queueIdx = 3): number {
  return r.pps.create({ flags, dev: r.dev, netdev: r.netdev, queueIdx, maxLen: 4096, poolSize: 256 });
}

describe("page_pool_init() with a memory provider", () => {
  it("copies mp_priv and mp_ops from the rx queue and clears dma_sync (v6.18)", () => {
    const r = providerRig("v6.18");
    const pool = providerPool(r);
    expect(pool).toBeGreaterThan(0);
    const o = r.pps.o;
    expect(r.m.mem.rdPtr(pool + o.need("mp_priv"))).toBe(r.binding);
    expect(r.m.mem.rd32(pool + o.need("mp_ops"))).toBe(MP_DMABUF_DEVMEM);
    // mp_dmabuf_devmem_init(): "Force disable dma_sync"; dma_map stays.
    expect(r.m.mem.rd32(pool + o.dmaSync.off) & o.dmaSync.mask).toBe(0);
    expect(r.m.mem.rd32(pool + o.dmaMap.off) & o.dmaMap.mask).toBe(o.dmaMap.mask);
    // The user's ref and the pool's.
    expect(devmemBindingInfo(r.pps, r.binding).ref).toBe(2);
  });

  it("refuses a provider pool without dma_map and dma_sync: -EOPNOTSUPP, no print (v6.15+)", () => {
    const r = providerRig("v6.16");
    expect(providerPool(r, PP_FLAG_DMA_MAP | PP_FLAG_ALLOW_UNREADABLE_NETMEM)).toBe(-EOPNOTSUPP);
    expect(r.m.mem.diagCount(Diag.MP_INIT_FAILED)).toBe(0);
    expect(devmemBindingInfo(r.pps, r.binding).ref).toBe(1);
    accounted(r);
  });

  it("v6.12: devmem's own init refuses dma_sync, and page_pool_init() prints the failure", () => {
    const r = providerRig("v6.12");
    expect(providerPool(r)).toBe(-EOPNOTSUPP);
    expect(r.m.mem.diagCount(Diag.MP_INIT_FAILED)).toBe(1);
    expect(r.m.mem.diagFirst(Diag.MP_INIT_FAILED)?.text).toBe("page_pool_init() mem-provider init failed -95");
    // dma_map without dma_sync is what v6.12's devmem wants.
    expect(providerPool(r, PP_FLAG_DMA_MAP | PP_FLAG_ALLOW_UNREADABLE_NETMEM)).toBeGreaterThan(0);
  });

  it("order != 0 is -E2BIG from the provider, printed", () => {
    const r = providerRig("v6.16");
    expect(r.pps.create({ flags: PROVIDER_FLAGS, dev: r.dev, netdev: r.netdev, queueIdx: 3, maxLen: 4096, order: 1 })).toBe(-7);
    expect(r.m.mem.diagFirst(Diag.MP_INIT_FAILED)?.text).toBe("page_pool_init() mem-provider init failed -7");
  });

  it("v6.6 has no PP_FLAG_ALLOW_UNREADABLE_NETMEM: -EINVAL", () => {
    const sys = bootPpSystem("v6.6", { bytes: 8 * MiB });
    const dev = sys.dma.deviceCreate("eth0");
    expect(sys.pps.create({ flags: PROVIDER_FLAGS, dev, maxLen: 4096, netdev: 0 })).toBe(-EINVAL);
  });

  it("a queue without a provider gives an ordinary page pool", () => {
    const r = providerRig("v6.16");
    const pool = providerPool(r, PROVIDER_FLAGS, 0);
    expect(pool).toBeGreaterThan(0);
    expect(r.m.mem.rd32(pool + r.pps.o.need("mp_ops"))).toBe(0);
    const page = r.pps.allocPages(pool);
    expect(page & 1).toBe(0);
    expect(r.m.mem.rd32(page + PAGE_DMA_ADDR)).not.toBe(0);
  });

  it("the flag without a netdev is a user error", () => {
    const r = providerRig("v6.16");
    expect(() => r.pps.create({ flags: PROVIDER_FLAGS, dev: r.dev, maxLen: 4096 })).toThrow(/needs netdev/);
  });
});

describe("net_iovs through the pool", () => {
  it("niov dma addresses are base_dma_addr + index << PAGE_SHIFT, set at bind", () => {
    const r = providerRig("v6.18", 8);
    const info = devmemBindingInfo(r.pps, r.binding);
    const g = netIovGeometry(r.build);
    expect(info.baseDma).toBe(DEVMEM_DEFAULT_BASE_DMA);
    expect(r.m.mem.rdPtr(info.area + NIA_NIOVS)).toBe(info.niovs);
    expect(r.m.mem.rd32(info.area + NIA_NUM_NIOVS)).toBe(8);
    for (let i = 0; i < 8; i++) {
      const niov = info.niovs + i * g.size;
      expect(netIovOwner(r.m.mem, g, niov)).toBe(info.area);
      expect(netIovIdx(r.m.mem, g, niov)).toBe(i);
      expect(r.m.mem.rd64(niov + g.dmaAddr)).toBe(0x4_0000_0000 + i * 4096);
    }
  });

  it("allocations are niovs with NET_IOV set, lowest gen_pool address first, pp info set, never DMA-mapped", () => {
    const r = providerRig("v6.18");
    const pool = providerPool(r);
    const info = devmemBindingInfo(r.pps, r.binding);
    const g = netIovGeometry(r.build);
    const mapsBefore = r.dma.deviceStats(r.dev).maps;
    const got = [0, 1, 2].map(() => r.pps.allocPages(pool));
    expect(got).toEqual([0, 1, 2].map((i) => (info.niovs + i * g.size) | 1));
    for (const n of got) {
      expect(r.m.mem.rd32(n - 1 + PAGE_PP)).toBe(pool);
      expect(r.m.mem.rd32(n - 1 + PAGE_PP_MAGIC)).toBe(0x40);
      expect(r.m.mem.rd32(n - 1 + PAGE_PP_REF_COUNT)).toBe(1);
    }
    expect(r.dma.deviceStats(r.dev).maps).toBe(mapsBefore);
    expect(r.pps.inflight(pool)).toBe(3);
    expect(devmemBindingInfo(r.pps, r.binding).free).toBe(253);
  });

  it("recycled niovs go through the alloc cache and the ring with bit 0 set", () => {
    const r = providerRig("v6.18");
    const pool = providerPool(r);
    context(r, 0, true);
    const a = r.pps.allocPages(pool);
    const b = r.pps.allocPages(pool);
    r.pps.recycleDirect(pool, a);
    expect(r.pps.cacheCount(pool)).toBe(1);
    const o = r.pps.o;
    expect(r.m.mem.rd32(pool + o.allocCache)).toBe(a);
    context(r, 1, false);
    r.pps.putFullPage(pool, b, false);
    const ring: number[] = [];
    r.pps.forEachPooledPage(pool, (p, where) => where === "ring" && ring.push(p));
    expect(ring).toEqual([b]);
    expect(ring[0]! & 1).toBe(1);
    expect(r.pps.ringCount(pool)).toBe(1);
    context(r, 0, true);
    // The cache, then the ring: both niovs come back, nothing new from the gen_pool.
    expect(r.pps.allocPages(pool)).toBe(a);
    expect(r.pps.allocPages(pool)).toBe(b);
    expect(devmemBindingInfo(r.pps, r.binding).free).toBe(254);
    void PTR_RING_SIZE;
  });

  it("destroy returns every niov to the gen_pool and drops the pool's binding ref; unbind frees the binding", () => {
    const r = providerRig("v6.16");
    const pool = providerPool(r);
    context(r, 0, true);
    const ns = [0, 1, 2, 3].map(() => r.pps.allocPages(pool));
    for (const n of ns.slice(0, 2)) r.pps.recycleDirect(pool, n);
    const held = ns.slice(2);
    r.pps.destroy(pool);
    // Two niovs in flight keep the pool (and its binding ref).
    expect(r.pps.isLive(pool)).toBe(true);
    expect(devmemBindingInfo(r.pps, r.binding).free).toBe(254);
    expect(devmemBindingInfo(r.pps, r.binding).ref).toBe(2);
    netDevmemUnbindDmabuf(r.pps, r.binding);
    expect(devmemBindingInfo(r.pps, r.binding).ref).toBe(1);
    for (const n of held) r.pps.putFullPage(pool, n, false);
    r.pps.advance(1000);
    expect(r.pps.isLive(pool)).toBe(false);
    let bindings = 0;
    forEachBinding(r.pps, () => bindings++);
    expect(bindings).toBe(0);
    expect(r.m.mem.diagTotal).toBe(0);
    accounted(r);
  });

  it("net_mp_netmem_place_in_cache(): a provider's refill puts netmems where the next alloc pops them", () => {
    const r = providerRig("v6.18", 4);
    const pool = providerPool(r);
    context(r, 0, true);
    const a = r.pps.allocPages(pool);
    const b = r.pps.allocPages(pool);
    expect(netMpNetmemPlaceInCache(r.pps, pool, a)).toBe(true);
    expect(netMpNetmemPlaceInCache(r.pps, pool, b)).toBe(true);
    expect(r.pps.cacheCount(pool)).toBe(2);
    expect([r.pps.allocPages(pool), r.pps.allocPages(pool)]).toEqual([b, a]);
  });

  it("a provider without a gen_pool entry left: the alloc fails (0), nothing taken", () => {
    const r = providerRig("v6.18", 2);
    const pool = providerPool(r);
    expect(r.pps.allocPages(pool) & 1).toBe(1);
    expect(r.pps.allocPages(pool) & 1).toBe(1);
    expect(r.pps.allocPages(pool)).toBe(0);
    expect(r.pps.inflight(pool)).toBe(2);
    expect(devmemBindingInfo(r.pps, r.binding).free).toBe(0);
  });

  it("net_iov_init() writes page_type UINT_MAX only where net_iov declares page_type (735a309b4bfb)", () => {
    // v7.1-rc-netpp's net_iov: page_type@48 (struct page's), type@52, owner@56.
    const netpp = providerRig("v7.1-rc-netpp", 4);
    const g = netIovGeometry(netpp.build);
    expect([g.pageType, g.niovType, g.owner]).toEqual([48, 52, 56]);
    const inited = devmemBindingInfo(netpp.pps, netpp.binding);
    for (let i = 0; i < 4; i++) expect(netpp.m.mem.rd32(inited.niovs + i * g.size + 48)).toBe(PAGE_TYPE_UINT_MAX);
    // db359fccf212 alone: owner and type only; page_type is what kvmalloc_array() left.
    const bare = netDevmemBindDmabuf(netpp.pps, { netdev: netpp.netdev, niovs: 4, init: "none" });
    const bi = devmemBindingInfo(netpp.pps, bare);
    for (let i = 0; i < 4; i++) {
      expect(netpp.m.mem.rd32(bi.niovs + i * g.size + 48)).not.toBe(PAGE_TYPE_UINT_MAX);
      expect(netpp.m.mem.rdPtr(bi.niovs + i * g.size + 56)).toBe(bi.area);
      expect(netpp.m.mem.rd32(bi.niovs + i * g.size + 52)).toBe(0); // NET_IOV_DMABUF
    }
    // v6.18: no page_type; offset 48 is `owner`, which net_iov_init() sets and nothing overwrites.
    const v618 = providerRig("v6.18", 4);
    const g18 = netIovGeometry(v618.build);
    expect([g18.pageType, g18.owner, g18.niovType, g18.typeSize]).toEqual([-1, 48, 56, 8]);
    const i18 = devmemBindingInfo(v618.pps, v618.binding);
    expect(v618.m.mem.rdPtr(i18.niovs + 48)).toBe(i18.area);
    // v6.12: the chunk owner before net_iov_area (niovs@16), and niov->owner is the chunk owner.
    const v612 = providerRig("v6.12", 4);
    expect(chunkOwnerGeometry(v612.pps).niovs).toBe(16);
    const i12 = devmemBindingInfo(v612.pps, v612.binding);
    expect(i12.area).toBe(i12.owner);
    expect(netIovIdx(v612.m.mem, netIovGeometry(v612.build), i12.niovs + 3 * netIovGeometry(v612.build).size)).toBe(3);
  });
});
