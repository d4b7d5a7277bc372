import type { Command } from 'commander';
import { stringify } from 'yaml';
import { flattenTenants, checkJobTenants, checkTenantsOnCluster } from '../../model/index.js';
import { heliosTenants, parseCluster, readJobs, readTenants, writeFileAtomic } from '../../io/index.js';


/** `rondo tenants check|from-helios` (docs/tenants.md). */
export function register(program: Command): void {
  const cmd = program.command('tenants').description('tenant tree files: check one, or make one from Helios VC quotas');
  cmd
    .command('check')
    .description('validate a tenant tree (YAML or JSON), optionally against a cluster and the tenants of a trace')
    .argument('<file>', 'tenant tree')
    .option('--cluster <spec>', 'check guarantees against this cluster, e.g. v100:36,k80:36')
    .option('--trace <file>', 'check that every job names a leaf of the tree')
    .option('--json', 'print one JSON object')
    .action((file: string, flags: { cluster?: string; trace?: string; json?: boolean }) => {
      const tree = readTenants(file);
      if (flags.cluster) checkTenantsOnCluster(tree, parseCluster(flags.cluster));
      if (flags.trace) checkJobTenants(tree, readJobs(flags.trace).jobs);
      const flat = flattenTenants(tree);
      const leaves = [...flat.leafIndex.keys()];
      const cohorts = flat.nodes.filter((n) => n.children.length > 0).map((n) => n.name);
      if (flags.json) process.stdout.write(`${JSON.stringify({ ok: true, file, tenants: leaves, cohorts })}\n`);
      else process.stdout.write(`${file}: ${leaves.length} tenant(s), ${cohorts.length} cohort(s): ok\n`);
    });
  cmd
    .command('from-helios')
    .description("write a tenant tree of Helios' virtual clusters (their GPU quotas on one day, Venus/cluster_gpu_number.csv)")
    .argument('<csv>', 'Helios cluster_gpu_number.csv')
    .argument('<out>', 'tenant tree to write (YAML)')
    .requiredOption('--date <yyyy-mm-dd>', 'the day whose quotas become guarantees')
    .option('--gpu-type <type>', 'GPU type of the guarantees (the file has counts only)', 'v100')
    .action((csv: string, out: string, flags: { date: string; gpuType: string }) => {
      const { tenants, totalGpus } = heliosTenants(csv, flags.date, flags.gpuType);
      const header = `# Helios VC quotas on ${flags.date} (${csv}); HeliosData, CC-BY-4.0 (Hu et al., SC'21). ${totalGpus} GPUs.\n`;
      writeFileAtomic(out, header + stringify({ tenants }));
      process.stdout.write(`wrote ${tenants.length} tenants (${totalGpus} ${flags.gpuType} GPUs) to ${out}\n`);
    });
}
