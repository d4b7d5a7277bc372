import type { Command } from 'commander';

/** The spot/preemptible flags of `rondo simulate`/`compare` (src/sim/spot-flags.ts, docs/formats.md). */
export function addSpotOptions(cmd: Command): Command {
  return cmd
    .option('--capacity <files>', 'capacity trace(s), comma-separated: GPUs per (type, tier, region) over time, with revocation notices; the cluster comes from here and --prices names a price trace')
    .option('--checkpoint-interval <seconds>', 'with --capacity: run time between checkpoints (default: checkpoint only at planned preemptions)')
    .option('--checkpoint-cost <seconds>', 'with --capacity: seconds each checkpoint pauses training (default 0)')
    .option('--capacity-loop <seconds>', 'with --capacity: repeat the capacity trace with this period')
    .option('--gpu-map <spec>', 'with --capacity: throughput rows for cards the table lacks, e.g. t4=p100*0.8,a100=v100*2 (defaults: docs/formats.md)')
    .option('--slo-factors <list>', 'with --capacity: give each job without an SLO a deadline of one of these factors x its duration alone (seeded), e.g. 1.2,2,10')
    .option('--spot-strategy <s>', 'with --capacity: restrict --policy to a tier: any (the policy decides; default), on-demand, spot, deadline (Proteus-like); the same as the policies on_demand_only, spot_only, spot_deadline over LAS')
    .option('--reprice-threshold <fraction>', 'with --capacity: re-solve the allocation when a price moves more than this fraction from the one it was solved with (default 0.1)');
}
