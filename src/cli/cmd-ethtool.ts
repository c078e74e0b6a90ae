/**
 * `ppemu ethtool -S [DEV]`: the page_pool statistics a driver exposes through ethtool, summed over
 * the device's pools, in ethtool's layout (src/netlink/ethtool.ts).
 */
import { type Command, parse, unexpectedArgument, UsageError } from "./common.js";
import { MACHINE_OPTIONS, machineFromArgs, machineHelp } from "./cmd-netlink.js";
import { driverPools, ethtoolStats, ethtoolValues } from "../netlink/ethtool.js";
import { jsonDocument, jsonText } from "../report/json.js";
import { netdevByName } from "../netlink/page_pool_nl.js";
import { MACH_LOOPBACK } from "../mem/physmem.js";

const NAME = "ethtool";
const DEFAULT_DEV = "eth0";

const help = (): string => `usage: ppemu ethtool -S [DEV] [machine options]

What \`ethtool -S DEV\` prints for a driver that reports its page_pools' stats: "NIC statistics:",
then the 11 page_pool strings of net/core/page_pool.c (rx_pp_alloc_fast … rx_pp_recycle_released_ref;
on a build whose struct page_pool_alloc_stats has more, as v11's item_fast_empty and
item_slow_failed, those after rx_pp_alloc_waive), each summed over the pools the driver of DEV still
holds (not yet destroyed), as page_pool_get_stats() sums them. The emulated device has no counters
of its own, so no other lines. DEV defaults to ${DEFAULT_DEV}, the scenario's netdev; after unbind it is gone.

  -S, --statistics  show the statistics (the only query)
  --json            {"schema": 1, "command": "ethtool", "dev", "kernel", "machine", "stats": {string: value}}
                    (schemas/ethtool.schema.json)
${machineHelp("allocated")}`;

export const ethtoolCommand: Command = {
  name: NAME,
  summary: "ethtool -S: the rx_pp_* page_pool counters of the scenario's netdev",
  get help() {
    return help();
  },
  run(argv, io) {
    const { values, positionals } = parse(NAME, argv, { ...MACHINE_OPTIONS, statistics: { type: "boolean", short: "S" }, json: { type: "boolean" } });
    if (values.statistics !== true) throw new UsageError(`ppemu ${NAME}: only -S (--statistics) is emulated: ppemu ethtool -S [DEV]`);
    if (positionals.length > 1) throw new UsageError(unexpectedArgument(NAME, positionals[1]!, values));
    const name = positionals[0] ?? DEFAULT_DEV;
    const { sys, text } = machineFromArgs(NAME, values, "allocated");
    // Before v6.8 a pool names no netdev: the machine's one driver owns every pool, under DEFAULT_DEV.
    const dev = sys.pps.o.netdev < 0 && name === DEFAULT_DEV ? -1 : netdevByName(sys, name);
    if (dev === 0) {
      // ethtool's ioctl on a name no netdev has: ENODEV.
      throw new UsageError(`ppemu ${NAME}: ${name}: no such device on the machine (${text}${values.at === "unbound" || values.at === "end" ? ": the driver unregistered it" : ""})`);
    }
    if (dev === sys.m.mem.rdPtr(sys.m.mem.machine + MACH_LOOPBACK)) {
      // The loopback driver has no ethtool stats: ethtool's do_gstats() says "no stats available".
      throw new UsageError(`ppemu ${NAME}: ${name}: no stats available (the loopback driver reports none)`);
    }
    if (values.json === true) {
      const stats = Object.fromEntries(ethtoolValues(sys, driverPools(sys, dev)).map((x) => [x.name, x.value]));
      io.out(jsonText(jsonDocument("ethtool", { dev: name, kernel: sys.build.name, machine: text, stats })));
      return 0;
    }
    io.out(ethtoolStats(sys, driverPools(sys, dev)).replace(/\n$/, ""));
    return 0;
  },
};
