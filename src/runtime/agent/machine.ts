import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * A stable identity of the machine an agent runs on, sent when it registers: with the worker's name it tells the
 * server that a new registration is the same worker again (an agent or server restart), so the earlier one is retired
 * rather than counted until it times out. A hash of the host name and systemd's machine id (which is meant not to
 * be shown as is), so nothing about the host travels in clear.
 */
export function machineIdentity(): string {
  let id = '';
  for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      id = readFileSync(f, 'utf8').trim();
      if (id) break;
    } catch {
      // absent (containers, macOS): the host name alone
    }
  }
  return createHash('sha256').update(`rondo-worker\0${id}\0${hostname()}`).digest('hex').slice(0, 32);
}
