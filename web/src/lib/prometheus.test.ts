import { describe, expect, it } from "vitest";
import { findSample, histogramQuantile, parsePrometheus, sumSamples } from "./prometheus";

const TEXT = `# HELP ferry_executor_tasks_running Tasks the local executor is running.
# TYPE ferry_executor_tasks_running gauge
ferry_executor_tasks_running 3
ferry_gateway_requests_total{endpoint="wine",revision="wine-predictor-00001",code="200"} 120
ferry_gateway_requests_total{endpoint="wine",revision="wine-predictor-00002",code="500"} 4
odd{label="with \\"quotes\\" and, comma"} 1.5e3
broken{label="unterminated} 1
nan_metric NaN
`;

describe("parsePrometheus", () => {
  const samples = parsePrometheus(TEXT);
  it("reads plain and labelled samples and skips broken lines", () => {
    expect(findSample(samples, "ferry_executor_tasks_running")?.value).toBe(3);
    expect(findSample(samples, "odd")?.labels.label).toBe('with "quotes" and, comma');
    expect(findSample(samples, "odd")?.value).toBe(1500);
    expect(findSample(samples, "broken")).toBeUndefined();
    expect(Number.isNaN(findSample(samples, "nan_metric")!.value)).toBe(true);
  });
  it("sums by label match", () => {
    expect(sumSamples(samples, "ferry_gateway_requests_total", { endpoint: "wine" })).toBe(124);
    expect(sumSamples(samples, "ferry_gateway_requests_total", { code: "500" })).toBe(4);
  });
});

describe("histogramQuantile", () => {
  it("interpolates inside the bucket like Prometheus", () => {
    const b = [
      { le: 0.001, count: 50 },
      { le: 0.01, count: 100 },
      { le: Infinity, count: 100 },
    ];
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.001);
    expect(histogramQuantile(0.75, b)).toBeCloseTo(0.0055);
    expect(histogramQuantile(0.5, [{ le: Infinity, count: 0 }])).toBeUndefined();
  });
});
