/** The command table. One line per command; each command is its own module. */
import type { Command } from "./common.js";
import { layoutCommand } from "./cmd-layout.js";
import { reportCommand } from "./cmd-report.js";
import { verifyCommand } from "./cmd-verify.js";
import { scenarioCommand } from "./cmd-scenario.js";
import { explainCommand } from "./cmd-explain.js";
import { benchCommand } from "./cmd-bench.js";
import { compareCommand } from "./cmd-compare.js";
import { stressCommand } from "./cmd-stress.js";
import { raceCommand } from "./cmd-race.js";
import { netlinkCommand } from "./cmd-netlink.js";
import { ethtoolCommand } from "./cmd-ethtool.js";

export const COMMANDS: readonly Command[] = [
  reportCommand,
  layoutCommand,
  scenarioCommand,
  verifyCommand,
  benchCommand,
  compareCommand,
  explainCommand,
  stressCommand,
  raceCommand,
  netlinkCommand,
  ethtoolCommand,
];
