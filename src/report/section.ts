/**
 * The report framework: a report is a list of sections (text + the same facts as JSON); `ppemu
 * report` renders whatever list it is given.
 */

/** One part of `ppemu report`: its text and the same facts as JSON. */
export interface ReportSection {
  readonly id: string;
  readonly title: string;
  /** Body text, no trailing newline; the title is printed by `renderSections`. */
  readonly text: string;
  readonly json: unknown;
}

export function renderSections(title: string, sections: readonly ReportSection[]): string {
  const parts = [title, "═".repeat(title.length)];
  sections.forEach((s, i) => {
    const head = `${i + 1}. ${s.title}`;
    parts.push("", head, "─".repeat(head.length), s.text);
  });
  return parts.join("\n") + "\n";
}

/**
 * Sections keyed by id, each its JSON as it is (a command's section is that command's whole `--json`
 * document: `unbind` is `scenario --json --kernel all`'s, `compare` compare's, …). A section's JSON
 * is an object, never an array.
 */
export function sectionsJson(sections: readonly ReportSection[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of sections) {
    if (s.json === null || typeof s.json !== "object" || Array.isArray(s.json)) throw new Error(`report section ${s.id}: JSON must be an object`);
    if (Object.prototype.hasOwnProperty.call(out, s.id)) throw new Error(`report section ${s.id}: two sections with one id`);
    out[s.id] = s.json;
  }
  return out;
}
