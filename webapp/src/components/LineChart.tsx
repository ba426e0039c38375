// A small inline SVG line chart of closing prices. Pixel positions are the only place prices
// become floating-point numbers; nothing computed here is shown as a price.
export interface LineChartProps {
  readonly values: readonly string[];
  readonly width?: number;
  readonly height?: number;
  readonly label: string;
}

export function linePoints(values: readonly string[], width: number, height: number): string {
  const numbers = values.map(Number).filter((value) => Number.isFinite(value));
  if (numbers.length < 2) {
    return "";
  }
  const low = Math.min(...numbers);
  const high = Math.max(...numbers);
  const range = high - low || 1;
  const step = width / (numbers.length - 1);
  return numbers
    .map((value, index) => `${(index * step).toFixed(1)},${(height - ((value - low) / range) * height).toFixed(1)}`)
    .join(" ");
}

export function LineChart({ values, width = 480, height = 120, label }: LineChartProps) {
  const points = linePoints(values, width, height);
  const first = values[0];
  const last = values[values.length - 1];
  const rising = first !== undefined && last !== undefined && Number(last) >= Number(first);
  return (
    <svg
      className="line-chart"
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={label}
      data-testid="line-chart"
    >
      {points !== "" && <polyline points={points} className={rising ? "line-up" : "line-down"} fill="none" />}
    </svg>
  );
}
