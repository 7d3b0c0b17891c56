// Headless Chromium from Debian's package, driven by playwright-core (no browser download). The
// flags keep it off the network it has no business with (this machine's closed network refuses
// those connections by the dozen).
import { spawnSync } from 'node:child_process'
import { chromium, type Browser } from 'playwright-core'

export function chromiumPath (): string {
  const found = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout.trim()
  if (found === '') throw new Error('chromium is not on PATH: install the Debian package chromium (npm test installs it as root)')
  return found
}

export async function launchChromium (): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
}
