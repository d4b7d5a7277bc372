import { gpuTypeColor } from '../../src/report/gpu-colors';

/** Okabe-Ito: job states and ρ (never GPU types, which have their own palette shared with the reports). */
export const OKABE_ITO = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#56B4E9', '#CC79A7', '#F0E442', '#000000'] as const;

/** One colour per GPU type, the same on every page and in `rondo report` (src/report/gpu-colors.ts). */
export function typeColor(type: string): string {
  return gpuTypeColor(type);
}

/** Job states: colour and a text label always go together (never colour alone). */
export const STATE_COLOR: Record<string, string> = {
  queued: '#6b6b6b',
  running: '#0072B2',
  completed: '#009E73',
  failed: '#D55E00',
  cancelled: '#8c8c8c',
};
