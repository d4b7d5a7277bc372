/**
 * Okabe-Ito, the colour-blind-safe palette the simulation report uses (src/report/charts.ts), so a GPU type has the
 * same colour in a report and on the dashboard. Yellow is last: it is hard to read on white.
 */
export const OKABE_ITO = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#56B4E9', '#CC79A7', '#F0E442', '#000000'] as const;

/** One colour per GPU type, stable for a given set of types (sorted by name). */
export function typeColor(types: readonly string[], type: string): string {
  const sorted = [...types].sort();
  const k = Math.max(0, sorted.indexOf(type));
  return OKABE_ITO[k % OKABE_ITO.length]!;
}

/** Job states: colour and a text label always go together (never colour alone). */
export const STATE_COLOR: Record<string, string> = {
  queued: '#6b6b6b',
  running: '#0072B2',
  completed: '#009E73',
  failed: '#D55E00',
  cancelled: '#8c8c8c',
};
