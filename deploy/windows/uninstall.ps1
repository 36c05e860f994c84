<#
.SYNOPSIS
  Stops and removes the portwarden service and its program folder.

.DESCRIPTION
  Keeps %ProgramData%\portwarden (configuration, agent id, undelivered spool, logs) unless
  -RemoveData is given, so a reinstall continues where the agent stopped. Run elevated:

    powershell -ExecutionPolicy Bypass -File deploy\windows\uninstall.ps1 [-RemoveData]
#>
[CmdletBinding()]
param(
  [string]$InstallDir = (Join-Path $env:ProgramFiles 'portwarden'),
  [switch]$RemoveData
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$principal = [Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
  throw 'uninstall.ps1 must run elevated (Run as administrator).'
}
$service = Join-Path $InstallDir 'portwarden-service.exe'
if (Get-Service -Name 'portwarden' -ErrorAction SilentlyContinue) {
  if (Test-Path -LiteralPath $service) {
    & $service stop | Out-Null
    & $service uninstall
    if ($LASTEXITCODE -ne 0) { throw 'WinSW could not uninstall the service' }
  } else {
    Stop-Service -Name 'portwarden' -Force -ErrorAction SilentlyContinue
    & sc.exe delete portwarden | Out-Null
  }
}
if (Test-Path -LiteralPath $InstallDir) { Remove-Item -LiteralPath $InstallDir -Recurse -Force }
$data = Join-Path $env:ProgramData 'portwarden'
if ($RemoveData -and (Test-Path -LiteralPath $data)) {
  Remove-Item -LiteralPath $data -Recurse -Force
  Write-Host "Removed $data"
} else {
  Write-Host "Kept $data (configuration, agent id, spool, logs); pass -RemoveData to delete it"
}
