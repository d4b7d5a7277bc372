import { Command } from 'commander';
import { vi } from 'vitest';

/** Runs one command registered on a fresh program, capturing stdout/stderr and the exit code it set. */
export async function runCommand(
  register: (p: Command) => void,
  args: string[],
): Promise<{ stdout: string; stderr: string; exitCode: number | undefined }> {
  const program = new Command().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  register(program);
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(args, { from: 'user' });
    const code = process.exitCode as number | undefined;
    return { stdout, stderr, exitCode: code };
  } finally {
    process.exitCode = before;
    out.mockRestore();
    err.mockRestore();
  }
}
