/** The command table. One line per command; each command is its own module. */
import type { Command } from "./common.js";

export const COMMANDS: readonly Command[] = [];
