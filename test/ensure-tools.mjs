// Checks the external programs the suite needs before anything else runs. A missing one is
// installed with apt-get when we run as root on a machine with apt (CI, fresh dev boxes);
// otherwise the run stops at once, naming the Debian packages to install.
// Plain JavaScript: it runs before dependencies are installed or anything is compiled.
import { execFileSync, spawnSync } from 'node:child_process'

// program on PATH -> Debian package that provides it
const TOOLS = [
  { command: 'redis-server', debianPackage: 'redis-server' },
  { command: 'chromium', debianPackage: 'chromium' },
  // Rule unit tests (promtool) and the dashboard test (a real Prometheus) in test/grafana/.
  { command: 'prometheus', debianPackage: 'prometheus' },
  { command: 'promtool', debianPackage: 'prometheus' }
]

function onPath (command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

const missing = TOOLS.filter((t) => !onPath(t.command))
if (missing.length > 0) {
  const packages = [...new Set(missing.map((t) => t.debianPackage))]
  const names = missing.map((t) => t.command).join(', ')
  const canInstall = process.getuid?.() === 0 && onPath('apt-get')
  if (!canInstall) {
    process.stderr.write(`npm test needs ${names}, which is not on PATH. Install the Debian package${packages.length > 1 ? 's' : ''} ${packages.join(' ')}:\n  sudo apt-get install -y ${packages.join(' ')}\n`)
    process.exit(1)
  }
  process.stderr.write(`npm test: installing ${packages.join(' ')} with apt-get for ${names}\n`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env })
  const still = missing.filter((t) => !onPath(t.command))
  if (still.length > 0) {
    process.stderr.write(`npm test: ${still.map((t) => t.command).join(', ')} still missing after apt-get install ${packages.join(' ')}\n`)
    process.exit(1)
  }
}
