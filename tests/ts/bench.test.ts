/** bench/program-eval.ts statistics (the timing itself is a measurement, not asserted). */
import { median, percentile, report } from "../../bench/program-eval";

test("median, nearest-rank percentile and the report table", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    expect(percentile([7], 90)).toBe(7);
    const table = report([{ stack: "prod", resources: 25, coldMs: 900, samplesMs: [10, 30, 20] }]);
    expect(table.split("\n")[2]).toMatch(/^prod\s+25\s+3\s+900\s+20\.0\s+10\.0\s+30\.0\s+30\.0$/);
});
