// bench/results.md is written by several tools, each owning one section between its markers:
// `<!-- <name>: written by <tool> -->` … `<!-- /<name> -->`. A tool replaces its own section and
// keeps the others, so no figure there is ever typed by hand.

/** The markers of section `name`, written by `writer` (the command that measures it). */
export const sectionMarkers = (name: string, writer: string) => ({ start: `<!-- ${name}: written by ${writer} -->`, end: `<!-- /${name} -->` });

/** Section `name` of a results.md text, markers included; undefined when it has none. */
export function sectionOf(md: string, name: string): string | undefined {
  const at = md.indexOf(`<!-- ${name}: `);
  const endMarker = `<!-- /${name} -->`;
  const end = md.indexOf(endMarker, at);
  return at >= 0 && end > at ? md.slice(at, end + endMarker.length) : undefined;
}

/** `md` with section `name` replaced by `section` (markers included), or `section` appended. */
export function withSection(md: string, name: string, section: string): string {
  const old = sectionOf(md, name);
  return old ? md.replace(old, () => section) : `${md.trimEnd()}\n\n${section}\n`;
}
