<#
.SYNOPSIS
  Installs portwarden as a Windows service (WinSW, LocalSystem, restart on failure).

.DESCRIPTION
  Copies a built portwarden tree (package.json, dist\, node_modules\, config\ with the built-in rule
  packs), node.exe and WinSW into
  -InstallDir, creates %ProgramData%\portwarden\{state,logs} readable only by SYSTEM and
  Administrators, writes the default portwarden.yml if none exists (never overwrites), checks the
  configuration, installs the service and starts it. Run from an elevated PowerShell:

    powershell -ExecutionPolicy Bypass -File deploy\windows\install.ps1 -WinSW C:\Downloads\WinSW-x64.exe

  Every path is passed to programs as a separate argument; nothing is built into a command string.
#>
[CmdletBinding()]
param(
  # The built portwarden tree (npm ci && npm run build); default: the repository holding this script.
  [string]$Source = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path,
  # node.exe (>= 20); default: the one on PATH.
  [string]$NodePath = '',
  # WinSW executable (WinSW-x64.exe from https://github.com/winsw/winsw/releases).
  [Parameter(Mandatory = $true)][string]$WinSW,
  [string]$InstallDir = (Join-Path $env:ProgramFiles 'portwarden'),
  [switch]$NoStart
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$principal = [Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
  throw 'install.ps1 must run elevated (Run as administrator).'
}
if ($NodePath -eq '') { $NodePath = (Get-Command node.exe -ErrorAction Stop).Source }
$nodeMajor = [int]((& $NodePath -p 'parseInt(process.versions.node, 10)').Trim())
if ($nodeMajor -lt 20) { throw "Node.js >= 20 is required, $NodePath is $nodeMajor" }
foreach ($p in @('package.json', 'dist\agent\cli\bin.js', 'node_modules', 'config\rules')) {
  if (-not (Test-Path -LiteralPath (Join-Path $Source $p))) { throw "$Source is not a built portwarden tree (missing $p); run npm ci and npm run build" }
}
$arch = switch ($env:PROCESSOR_ARCHITECTURE) { 'ARM64' { 'arm64' } 'x86' { 'ia32' } default { 'x64' } }
if (-not (Test-Path -LiteralPath (Join-Path $Source "node_modules\@koromix\koffi-win32-$arch"))) {
  Write-Warning 'koffi has no Windows binary in node_modules: the agent will fall back to netstat and PowerShell (no bind times, no service names).'
}

$service = Join-Path $InstallDir 'portwarden-service.exe'
if (Get-Service -Name 'portwarden' -ErrorAction SilentlyContinue) {
  Write-Host 'Stopping the existing portwarden service for the upgrade'
  & $service stop | Out-Null
}

$data = Join-Path $env:ProgramData 'portwarden'
foreach ($d in @($InstallDir, (Join-Path $InstallDir 'app'), $data, (Join-Path $data 'state'), (Join-Path $data 'logs'))) {
  New-Item -ItemType Directory -Force -Path $d | Out-Null
}
# Only SYSTEM and Administrators may read the state, logs and config (events hold command lines).
& icacls.exe $data '/inheritance:r' '/grant:r' '*S-1-5-18:(OI)(CI)F' '/grant:r' '*S-1-5-32-544:(OI)(CI)F' | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls failed on $data" }

Write-Host "Copying portwarden into $InstallDir"
# config\ holds the built-in rule packs the agent loads at start (check-config refuses without them).
foreach ($p in @('package.json', 'dist', 'node_modules', 'config')) {
  $target = Join-Path $InstallDir "app\$p"
  if (Test-Path -LiteralPath $target) { Remove-Item -LiteralPath $target -Recurse -Force }
  Copy-Item -LiteralPath (Join-Path $Source $p) -Destination $target -Recurse -Force
}
Copy-Item -LiteralPath $NodePath -Destination (Join-Path $InstallDir 'node.exe') -Force
Copy-Item -LiteralPath $WinSW -Destination $service -Force
Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'portwarden-service.xml') -Destination (Join-Path $InstallDir 'portwarden-service.xml') -Force

$config = Join-Path $data 'portwarden.yml'
if (-not (Test-Path -LiteralPath $config)) {
  Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'portwarden.yml') -Destination $config
  Write-Host "Wrote the default configuration to $config (one local NDJSON output; add yours)"
} else {
  Write-Host "Keeping the existing $config"
}
& (Join-Path $InstallDir 'node.exe') (Join-Path $InstallDir 'app\dist\agent\cli\bin.js') 'check-config' '--config' $config
if ($LASTEXITCODE -ne 0) { throw "$config is not valid; fix it and run install.ps1 again" }

if (-not (Get-Service -Name 'portwarden' -ErrorAction SilentlyContinue)) {
  & $service install
  if ($LASTEXITCODE -ne 0) { throw 'WinSW could not install the service' }
}
# The same recovery as <onfailure> in the XML, also when the process exits cleanly with an error code.
& sc.exe failure portwarden 'reset=' '86400' 'actions=' 'restart/5000/restart/5000/restart/60000' | Out-Null
& sc.exe failureflag portwarden 1 | Out-Null

if (-not $NoStart) {
  & $service start
  if ($LASTEXITCODE -ne 0) { throw "the service did not start; see $data\logs" }
  Write-Host "portwarden is running. Logs: $data\logs"
}
