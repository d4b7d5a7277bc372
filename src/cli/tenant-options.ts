import type { Command } from 'commander';

/** `--tenants` and `--assign-tenants` of simulate, compare and sweep (read by src/sim/tenant-workload.ts). */
export function addTenantOptions(cmd: Command): Command {
  return cmd
    .option('--tenants <file>', 'tenant tree (YAML or JSON): guarantees, limits, weights; used by tenant_quota and kueue_quota, and reported per tenant with --json')
    .option('--assign-tenants <spec>', 'give tenants to trace jobs without one: random:a,b | random:a=3,b=1 | by-type:ResNet=vision,*=other (seeded by --seed)');
}
