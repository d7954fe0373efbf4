/**
 * How long the Pulumi program takes to evaluate under the mock engine, per stack.
 *
 *   npm run bench:program                 5 measured runs per stack after 1 warm-up
 *   npm run bench:program -- --runs 15
 *
 * Each run is the real index.ts with that stack's Pulumi.<stack>.yaml, through the same harness as the
 * tests and synth (config validation, every component, value building, mock registration of every
 * resource). The first run of a process pays module loading and is reported separately as "cold".
 */
import * as os from "os";
import { STACK_NAMES } from "../config/schema";
import { runStack } from "../offline/engine";

export interface StackTiming {
    stack: string;
    resources: number;
    coldMs: number;
    samplesMs: number[];
}

export function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile of a sample. */
export function percentile(values: number[], p: number): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export async function measure(stacks: readonly string[], runs: number): Promise<StackTiming[]> {
    const timings: StackTiming[] = [];
    for (const stack of stacks) {
        const cold = await runStack(stack);
        const samplesMs: number[] = [];
        for (let i = 0; i < runs; i++) {
            samplesMs.push((await runStack(stack)).elapsedMs);
        }
        timings.push({ stack, resources: cold.resources.length, coldMs: cold.elapsedMs, samplesMs });
    }
    return timings;
}

export function report(timings: StackTiming[]): string {
    const header = ["stack", "resources", "runs", "cold ms", "median ms", "min ms", "p90 ms", "max ms"];
    const rows = timings.map((t) => [
        t.stack,
        String(t.resources),
        String(t.samplesMs.length),
        t.coldMs.toFixed(0),
        median(t.samplesMs).toFixed(1),
        Math.min(...t.samplesMs).toFixed(1),
        percentile(t.samplesMs, 90).toFixed(1),
        Math.max(...t.samplesMs).toFixed(1),
    ]);
    const all = [header, ...rows];
    const widths = header.map((_, c) => Math.max(...all.map((r) => r[c].length)));
    const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ");
    return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

async function main(): Promise<void> {
    const argv = process.argv.slice(2);
    const runsArg = argv.indexOf("--runs");
    const runs = runsArg >= 0 ? Number(argv[runsArg + 1]) : 5;
    if (!Number.isInteger(runs) || runs < 1) {
        throw new Error(`--runs must be a positive integer, got ${argv[runsArg + 1]}`);
    }
    const timings = await measure(STACK_NAMES, runs);
    const load = os.loadavg().map((l) => l.toFixed(1)).join(" ");
    // Shared machines skew wall time: print the load so a slow figure can be read in context.
    console.log(`Program evaluation under Pulumi mocks (node ${process.version}, ${os.cpus().length} CPUs, load ${load}; ${runs} runs per stack after a cold run)\n`);
    console.log(report(timings));
}

if (require.main === module) {
    main().catch((err) => {
        console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
    });
}
