/**
 * One colour per GPU type, shared by the dashboard (web/src/colors.ts imports this file) and the reports, so v100 is
 * the same colour on every page, chart and exported figure. Every colour keeps a contrast ratio of at least 3:1 (WCAG's
 * figure for graphics and large text) against the dashboard's light and dark backgrounds and against the white text
 * of a busy GPU slot, so each lies in a narrow band of luminance (0.19 to 0.26; test/report/gpu-colors.test.ts checks
 * it against web/src/style.css). Within that band the hues were picked to stay apart for normal vision and the common
 * red-green deficiencies, and apart from the hues the dashboard already gives a meaning: job states use Okabe-Ito
 * blue (running), green (completed) and vermilion (failed), and ρ>1 is drawn in orange. A type's colour depends only
 * on its name, never on which other types are present. Pure: no imports, so the browser bundle can take it as is.
 */
export const GPU_PALETTE = ['#D04296', '#8267DB', '#B7812B', '#7286CF', '#AD6A3E', '#4593B2', '#D24761', '#54977A'] as const;

/** Gavel's types and common newer ones, each fixed to its own palette entry (in this order) so they never collide. */
const KNOWN = new Map<string, string>(['v100', 'k80', 'p100', 'a100', 'h100', 't4', 'a10', 'l4'].map((t, i) => [t, GPU_PALETTE[i]!]));

/** The colour of a GPU type: fixed for known names, otherwise a stable hash of the name into the palette. */
export function gpuTypeColor(type: string): string {
  const known = KNOWN.get(type.toLowerCase());
  if (known) return known;
  let h = 2166136261;
  for (let i = 0; i < type.length; i++) h = Math.imul(h ^ type.charCodeAt(i), 16777619) >>> 0;
  return GPU_PALETTE[h % GPU_PALETTE.length]!;
}
