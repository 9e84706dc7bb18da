# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command"]
COPY app C:\app\
RUN Write-Host one; `
    Write-Host two; `
    Write-Host "path C:\temp\new"
ENV DIR=C:\data `
    OTHER=`$notavar
WORKDIR C:\app
