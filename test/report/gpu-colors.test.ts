/**
 * Every GPU-type colour (src/report/gpu-colors.ts) must stay visible on the dashboard in both themes: a contrast ratio
 * of at least 3:1 (WCAG 2.x, non-text contrast) against each background of web/src/style.css, light and dark, read
 * from the stylesheet itself so a changed background is checked too.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GPU_PALETTE, gpuTypeColor } from '../../src/report/gpu-colors.js';

/** WCAG relative luminance of `#rrggbb`. */
function luminance(hex: string): number {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`not a #rrggbb colour: ${hex}`);
  const [r, g, b] = m.slice(1).map((x) => {
    const c = parseInt(x, 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** The surfaces a GPU colour is drawn on (page, card, table header, hovered row), per theme. */
const SURFACES = ['--bg', '--card', '--surface', '--surface-2', '--hover'];

/** `#fff` as `#ffffff`. */
const long = (hex: string): string => (/^#[0-9a-f]{3}$/i.test(hex) ? `#${[...hex.slice(1)].map((c) => c + c).join('')}` : hex);

function themeBackgrounds(): { light: Record<string, string>; dark: Record<string, string> } {
  const css = readFileSync(new URL('../../web/src/style.css', import.meta.url), 'utf8');
  const dark = css.indexOf('@media (prefers-color-scheme: dark)');
  expect(dark, 'web/src/style.css has a dark theme block').toBeGreaterThan(0);
  const read = (block: string): Record<string, string> => {
    const root = /:root\s*\{([^}]*)\}/.exec(block)?.[1] ?? '';
    return Object.fromEntries(SURFACES.map((v) => [v, long(new RegExp(`${v}:\\s*(#[0-9a-f]{3}(?:[0-9a-f]{3})?)\\s*;`, 'i').exec(root)?.[1] ?? '')]));
  };
  return { light: read(css.slice(0, dark)), dark: read(css.slice(dark)) };
}

describe('GPU type colours', () => {
  const themes = themeBackgrounds();

  it('reads every background of both themes from the stylesheet', () => {
    for (const [theme, vars] of Object.entries(themes)) {
      for (const v of SURFACES) expect(vars[v], `${theme} ${v}`).toMatch(/^#[0-9a-f]{6}$/i);
    }
  });

  it('has a contrast of at least 3:1 against every background, light and dark, and against white text', () => {
    const colours = new Set<string>([...GPU_PALETTE, ...['v100', 'k80', 'p100', 'a100', 'h100', 't4', 'a10', 'l4', 'b200', 'mi300x'].map(gpuTypeColor)]);
    const low: string[] = [];
    for (const colour of colours) {
      // White: the text of a busy GPU slot on the cluster view, drawn on the type's colour.
      const against = { white: '#ffffff', ...Object.fromEntries(Object.entries(themes).flatMap(([theme, vars]) => Object.entries(vars).map(([v, bg]) => [`${theme} ${v} ${bg}`, bg]))) };
      for (const [name, bg] of Object.entries(against)) {
        const ratio = contrast(colour, bg);
        if (ratio < 3) low.push(`${colour} on ${name}: ${ratio.toFixed(2)}:1`);
      }
    }
    expect(low).toEqual([]);
  });

  it('computes the contrast ratio as WCAG defines it', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrast('#777777', '#ffffff')).toBeCloseTo(4.48, 2);
    expect(contrast('#332288', '#1c1f24')).toBeLessThan(3); // the old k80 indigo, hard to see in dark mode
  });
});
