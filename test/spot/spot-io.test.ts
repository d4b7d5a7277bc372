import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCapacity, parsePrices, readCapacityFile, readPricesFile } from '../../src/io/index.js';
import { CapacitySchedule, PriceSchedule, generateCapacityCsv, generatePricesCsv } from '../../src/sim/index.js';
import { RondoError } from '../../src/model/index.js';

function err(f: () => unknown): RondoError {
  try {
    f();
  } catch (e) {
    if (e instanceof RondoError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('capacity and price traces', () => {
  it('reads a capacity trace: tiers, regions, notices; decreases take effect at the notice', () => {
    const t = parseCapacity('# comment\ntime_s,gpu_type,tier,region,gpus,notice_s\n0,V100,spot,us-east1,4,\n0,v100,on-demand,,2,\n100,v100,spot,us-east1,1,30\n', 'c.csv');
    expect(t.keys.map((k) => k.type)).toEqual(['v100-spot.us-east1', 'v100']);
    const s = new CapacitySchedule(t);
    expect(s.countAt('v100-spot.us-east1', 69)).toBe(4);
    expect(s.countAt('v100-spot.us-east1', 70)).toBe(1);
    expect(s.countAt('v100', 1e9)).toBe(2);
    expect(s.nextChangeAfter(0)).toBe(70);
    expect(s.nextChangeAfter(70)).toBeUndefined();
    const looped = new CapacitySchedule(t, 200);
    expect(looped.countAt('v100-spot.us-east1', 250)).toBe(4);
    expect(looped.nextChangeAfter(100)).toBe(200);
  });

  it('names the file, the line and the fix for bad rows', () => {
    const head = 'time_s,gpu_type,tier,gpus,notice_s\n';
    const cases: Array<[string, RegExp, number | undefined]> = [
      ['time_s,gpu_type\n0,v100\n', /lacks column\(s\) gpus/, 1],
      [`${head}0,v100,reserved,1,\n`, /bad tier/, 2],
      [`${head}10,v100,spot,1,\n5,v100,spot,2,\n`, /comes before/, 3],
      [`${head}0,v100,spot,-1,\n`, /out of range/, 2],
      [`${head}10,v100,spot,1,20\n`, /notice_s/, 2],
      [`${head}0,v100-spot,spot,1,\n`, /carries a tier/, 2],
      [`${head}0,v100,spot,x,\n`, /bad gpus/, 2],
    ];
    for (const [text, re, line] of cases) {
      const e = err(() => parseCapacity(text, 'cap.csv'));
      expect(e.message).toMatch(re);
      expect(e.file).toBe('cap.csv');
      expect(e.line).toBe(line);
    }
    const p = err(() => parsePrices('time_s,gpu_type,tier,usd_per_gpu_hour\n5,v100,spot,1\n', 'p.csv'));
    expect(p.message).toMatch(/price before then is unknown/);
    expect(p.hint).toMatch(/time_s 0/);
    expect(err(() => parsePrices('time_s,gpu_type,tier,usd_per_gpu_hour\n0,v100,spot,-1\n', 'p.csv')).message).toMatch(/negative price/);
  });

  it('integrates cost across price changes', () => {
    const p = new PriceSchedule(parsePrices('time_s,gpu_type,tier,usd_per_gpu_hour\n0,v100,spot,1\n3600,v100,spot,2\n'));
    expect(p.cost('v100-spot', 2, 1800, 5400)).toBeCloseTo(2 * (0.5 * 1 + 0.5 * 2), 9);
    expect(p.priceAt('v100-spot', 3599)).toBe(1);
    expect(p.priceAt('v100-spot', 3600)).toBe(2);
  });

  it('every shipped trace reads cleanly', () => {
    const files = readdirSync('data/spot').filter((f) => f.endsWith('.csv'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      if (f.includes('prices')) expect(readPricesFile(`data/spot/${f}`).points.length).toBeGreaterThan(10);
      else expect(readCapacityFile(`data/spot/${f}`).events.length).toBeGreaterThan(10);
    }
  });

  it('the generators are seeded and produce valid traces', () => {
    const o = { gpu: 'v100', gpus: 16, revocationsPerGpuHour: 0.2, meanReturnS: 1800, noticeS: 120, hours: 24, seed: 5, onDemandGpus: 4 };
    const a = generateCapacityCsv(o);
    expect(generateCapacityCsv(o)).toBe(a);
    expect(generateCapacityCsv({ ...o, seed: 6 })).not.toBe(a);
    const cap = new CapacitySchedule(parseCapacity(a));
    const rate = cap.revocationRates()['v100-spot']!;
    expect(rate).toBeGreaterThan(0.1);
    expect(rate).toBeLessThan(0.4);
    const prices = generatePricesCsv({ gpu: 'v100', onDemand: 3, spot: 1, volatility: 0.1, stepHours: 6, hours: 240, seed: 1 });
    const ps = new PriceSchedule(parsePrices(prices));
    for (let t = 0; t < 240 * 3600; t += 3600) {
      expect(ps.priceAt('v100-spot', t)).toBeGreaterThanOrEqual(0.3 - 1e-9);
      expect(ps.priceAt('v100-spot', t)).toBeLessThanOrEqual(3);
    }
  });
});
