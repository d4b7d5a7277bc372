/**
 * One colour per GPU type, shared by the dashboard (web/src/colors.ts imports this file) and the reports, so v100 is
 * the same colour on every page, chart and exported figure. The palette is Paul Tol's "muted" set (safe for the common
 * colour-vision deficiencies) without the hues the dashboard already gives a meaning: job states use Okabe-Ito blue
 * (running), green (completed) and vermilion (failed), and ρ>1 is drawn in orange. A type's colour depends only on its
 * name, never on which other types are present. Pure: no imports, so the browser bundle can take it as is.
 */
export const GPU_PALETTE = ['#882255', '#332288', '#DDCC77', '#AA4499', '#999933', '#88CCEE', '#CC6677', '#661100'] as const;

/** The types of Gavel's traces and common newer ones, fixed so their colours never collide. */
const KNOWN: Readonly<Record<string, string>> = {
  v100: '#882255',
  k80: '#332288',
  p100: '#DDCC77',
  a100: '#AA4499',
  h100: '#999933',
  t4: '#88CCEE',
  a10: '#CC6677',
  l4: '#661100',
};

/** The colour of a GPU type: fixed for known names, otherwise a stable hash of the name into the palette. */
export function gpuTypeColor(type: string): string {
  const known = KNOWN[type.toLowerCase()];
  if (known) return known;
  let h = 2166136261;
  for (let i = 0; i < type.length; i++) h = Math.imul(h ^ type.charCodeAt(i), 16777619) >>> 0;
  return GPU_PALETTE[h % GPU_PALETTE.length]!;
}
