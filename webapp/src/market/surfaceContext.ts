// Which chart surface PriceChart draws on: lightweight-charts, loaded on first use (its code is a
// separate chunk, so pages without a chart never download it); tests provide a recording fake.
import { createContext, useContext } from "react";
import type { ChartSurfaceFactory } from "./chartSurface";

export type ChartSurfaceLoader = () => Promise<ChartSurfaceFactory>;

export const loadLightweightSurface: ChartSurfaceLoader = () =>
  import("./chartSurface").then((module) => module.createLightweightSurface);

export const ChartSurfaceContext = createContext<ChartSurfaceLoader>(loadLightweightSurface);

export function useChartSurfaceLoader(): ChartSurfaceLoader {
  return useContext(ChartSurfaceContext);
}
