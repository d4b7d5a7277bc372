/**
 * Worker thread of a sweep: runs the points it is sent, one at a time, and posts back each document as a JSON
 * string. It writes nothing itself: the main thread writes each result atomically, so a worker killed at any moment
 * leaves no file behind.
 */
import { parentPort } from 'node:worker_threads';
import { isRondoError } from '../model/errors.js';
import type { SweepPoint } from './grid.js';
import { runPoint } from './point.js';

export interface RunMessage {
  readonly type: 'run';
  readonly point: SweepPoint;
  readonly sweepHash: string;
  readonly timelineMaxJobs: number;
}

export type WorkerReply =
  | { readonly type: 'done'; readonly key: string; readonly json: string; readonly wallSeconds: number; readonly policySeconds: number; readonly lpSeconds: number }
  | { readonly type: 'error'; readonly key: string; readonly message: string; readonly userError: boolean };

const port = parentPort;
if (port) {
  port.on('message', (msg: RunMessage) => {
    void (async () => {
      try {
        const r = await runPoint(msg.point, msg.sweepHash, { timelineMaxJobs: msg.timelineMaxJobs });
        const reply: WorkerReply = { type: 'done', key: msg.point.key, json: `${JSON.stringify(r.doc)}\n`, wallSeconds: r.wallSeconds, policySeconds: r.policySeconds, lpSeconds: r.lpSeconds };
        port.postMessage(reply);
      } catch (e) {
        const reply: WorkerReply = {
          type: 'error',
          key: msg.point.key,
          message: isRondoError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e),
          userError: isRondoError(e),
        };
        port.postMessage(reply);
      }
    })();
  });
}
