import type { Directive, DirectiveContext } from '../sdk';
import { diskReport, memoryReport } from './storage-report';

/** A demo agent: who it is, and how it answers a directive. */
export interface DemoAgent {
  username: string;
  description: string;
  handle(directive: Directive, context: DirectiveContext): Promise<string | void>;
}

const MAX_WAIT_S = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The storage custodian: real figures of the machine it runs on. "disk"/"space"/"storage" (optionally
 * "of <path>") gives the file system, "memory"/"ram" the memory, anything else both.
 */
export function custodian(defaultPath: string): DemoAgent {
  return {
    username: 'custodian',
    description: 'Storage custodian: answers questions about disk and memory of the machine it runs on',
    async handle({ command }) {
      const path = /\b(?:of|at|on|for)\s+(\/\S*)/i.exec(command)?.[1] ?? defaultPath;
      const disk = /\b(disk|space|storage|volume)\b/i.test(command);
      const memory = /\b(memory|ram|load)\b/i.test(command);
      if (disk && !memory) return diskReport(path);
      if (memory && !disk) return memoryReport();
      return `${await diskReport(path)}\n${memoryReport()}`;
    },
  };
}

/** The echo/timer agent: "echo <text>", or "wait <n> seconds" (at most 30), or repeats the command. */
export function echoTimer(): DemoAgent {
  return {
    username: 'echo',
    description: 'Echo and timer: repeats what it is told, or waits a few seconds and says so',
    async handle({ command }) {
      const wait = /\b(?:wait|sleep|timer)\s+(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)?\b/i.exec(command);
      if (wait) {
        const seconds = Math.min(Number(wait[1]), MAX_WAIT_S);
        const started = Date.now();
        await sleep(seconds * 1000);
        return `Waited ${((Date.now() - started) / 1000).toFixed(1)} s, as asked.`;
      }
      const echo = /^\s*(?:echo|say|repeat)\s+([\s\S]+)$/i.exec(command);
      return echo ? echo[1] : `You said: ${command}`;
    },
  };
}

/** The narrator: streams a long answer in chunks ("count to <n>", or a short story about anything). */
export function narrator(chunkDelayMs = 150): DemoAgent {
  return {
    username: 'narrator',
    description: 'Narrator: streams long answers in chunks (try "count to 10" or "tell a story about cats")',
    async handle({ command }, context) {
      const count = /\bcount\s+to\s+(\d+)/i.exec(command);
      const parts = count
        ? Array.from({ length: Math.min(Number(count[1]), 100) }, (_, i) => `${i + 1}${i + 1 < Number(count[1]) ? ', ' : '.'}`)
        : story(/\babout\s+([\s\S]+)$/i.exec(command)?.[1]?.trim() || 'a hub full of agents');
      for (const part of parts) {
        context.write(part);
        await sleep(chunkDelayMs);
      }
      // Nothing returned: the answer is the chunks joined.
    },
  };
}

function story(topic: string): string[] {
  return [
    `Once upon a time there was ${topic}. `,
    'Every morning it woke up, looked around, and asked the Butler what needed doing. ',
    'The Butler never acted alone: each request waited for a human to say yes. ',
    'When the answer came, the work was done once, and only once, ',
    'even on the day the network went down halfway through. ',
    'And that is why everybody trusted it. The end.',
  ];
}

/** The three demo agents. */
export function demoAgents(dataDir: string, options: { chunkDelayMs?: number } = {}): DemoAgent[] {
  return [custodian(dataDir), echoTimer(), narrator(options.chunkDelayMs)];
}
