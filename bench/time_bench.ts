/**
 * time_bench's `Type:` line, exactly as the in-tree module prints it
 * (tools/testing/selftests/net/bench/page_pool/time_bench.c, time_bench_print_stats(); module
 * bench_page_pool, so pr_fmt adds `bench_page_pool: `):
 *
 *   Type:%s Per elem: %llu cycles(tsc) %llu.%03llu ns (step:%d) - (measurement period time:%llu.%09u sec
 *   time_interval:%llu) - (invoke count:%llu tsc_interval:%llu)
 *
 * with time_bench_calc_stats()'s integer arithmetic: cycles = tsc_interval / invoked_cnt, ns =
 * time_interval / invoked_cnt and its three "decimals" (time_interval % cnt) / (cnt / 1000) — the
 * source's own "incorrect roundup". ppemu has no TSC: tsc_interval is time_interval at the stated
 * nominal frequency (detectTsc()), and the line describes the median sample of the process whose
 * figure is the median across processes: invoke count is that sample's elements, time_interval its
 * time, so ns/elem on the line is the figure in the table.
 */
import { readFileSync } from "node:fs";

/** pr_fmt of the in-tree module. */
export const TIME_BENCH_PREFIX = "bench_page_pool: ";

export interface Tsc {
  /** MHz; 0 when unknown (cycles then print as 0). */
  readonly mhz: number;
  readonly source: string;
}

/**
 * The TSC frequency cycles are computed with, and where it came from: `--tsc-mhz` if given, else
 * the nominal frequency in the CPU's model name (Intel's "@ 3.60GHz"), else cpufreq's
 * base_frequency, else /proc/cpuinfo's "cpu MHz" (on a VM without cpufreq, the kernel's TSC
 * calibration), else unknown.
 */
export function detectTsc(givenMhz?: number, cpuinfo = readText("/proc/cpuinfo"), baseKhz = readText("/sys/devices/system/cpu/cpu0/cpufreq/base_frequency")): Tsc {
  if (givenMhz !== undefined) return { mhz: givenMhz, source: "--tsc-mhz" };
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? "";
  const ghz = /@\s*(\d+(?:\.\d+)?)\s*GHz/i.exec(model);
  if (ghz) return { mhz: Math.round(Number(ghz[1]) * 1000), source: `nominal, from the model name "${model}"` };
  const khz = Number(baseKhz.trim());
  if (baseKhz.trim() !== "" && Number.isFinite(khz) && khz > 0) return { mhz: khz / 1000, source: "cpufreq base_frequency of cpu0" };
  const mhz = /^cpu MHz\s*:\s*(\d+(?:\.\d+)?)$/m.exec(cpuinfo);
  if (mhz) return { mhz: Number(mhz[1]), source: `"cpu MHz" of cpu0 in /proc/cpuinfo (no nominal frequency on "${model || "this CPU"}")` };
  return { mhz: 0, source: "unknown (no model-name frequency, cpufreq or cpu MHz): cycles print as 0" };
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** time_bench_calc_stats()'s `%llu.%03llu` of time_interval / invoked_cnt. */
export function timeBenchNs(timeInterval: number, count: number): string {
  if (count <= 0) return "0.000";
  const q = Math.floor(timeInterval / count);
  const prec = Math.floor(count / 1000);
  const dec = prec > 0 ? Math.floor((timeInterval % count) / prec) : 0;
  return `${q}.${String(dec).padStart(3, "0")}`;
}

/** `%llu.%09u` seconds of a ns interval. */
export function seconds(ns: number): string {
  return `${Math.floor(ns / 1e9)}.${String(ns % 1e9).padStart(9, "0")}`;
}

/** The fields of one line: integers, as the module's u64s. */
export interface TimeBenchRecord {
  readonly name: string;
  readonly invokeCount: number;
  readonly timeIntervalNs: number;
  readonly tscInterval: number;
  readonly cycles: number;
}

/** A record from ns per element and elements per sample, at `mhz`. */
export function timeBenchRecord(name: string, nsPerElem: number, invokeCount: number, mhz: number): TimeBenchRecord {
  const timeIntervalNs = Math.round(nsPerElem * invokeCount);
  const tscInterval = Math.round((timeIntervalNs * mhz) / 1000);
  return { name, invokeCount, timeIntervalNs, tscInterval, cycles: invokeCount > 0 ? Math.floor(tscInterval / invokeCount) : 0 };
}

/** The module's line, prefix included. */
export function typeLine(r: TimeBenchRecord, step = 0): string {
  return (
    `${TIME_BENCH_PREFIX}Type:${r.name} Per elem: ${r.cycles} cycles(tsc) ${timeBenchNs(r.timeIntervalNs, r.invokeCount)} ns (step:${step})` +
    ` - (measurement period time:${seconds(r.timeIntervalNs)} sec time_interval:${r.timeIntervalNs})` +
    ` - (invoke count:${r.invokeCount} tsc_interval:${r.tscInterval})`
  );
}
