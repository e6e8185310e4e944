export function clockTicks(): number;
export function parseStatTicks(text: string): number;
export function parseVmRssKiB(text: string): number;
export function cpuSeconds(pid: number): number;
export function rssKiB(pid: number): number;
