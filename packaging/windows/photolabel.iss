; Inno Setup script for photolabel (Windows). Build on Windows with Inno Setup 6:
;   cargo build --release
;   rcedit target\release\photolabel.exe --set-icon packaging\windows\photolabel.ico
;   iscc packaging\windows\photolabel.iss        -> target\windows\photolabel-0.1.0-setup.exe
; Installs per user by default (no admin rights needed), adds a Start menu shortcut (and an
; optional desktop one) with the photolabel icon, an "Open with photolabel" entry on folders,
; and an uninstaller. The library, logs and model cache stay in %APPDATA%\photolabel and
; %LOCALAPPDATA%\photolabel and are not removed on uninstall.

#define AppName "photolabel"
#define AppVersion "0.1.0"
#define Root "..\.."

[Setup]
AppId={{6F0C5F0E-3C1B-4B8E-9E57-6A8E2B1C7D41}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=photolabel developers
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#Root}\target\windows
OutputBaseFilename=photolabel-{#AppVersion}-setup
SetupIconFile=photolabel.ico
UninstallDisplayIcon={app}\photolabel.exe
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "openwith"; Description: "Add ""Open with photolabel"" to folders"; GroupDescription: "Explorer:"

[Files]
Source: "{#Root}\target\release\photolabel.exe"; DestDir: "{app}"; Flags: ignoreversion
Source: "photolabel.ico"; DestDir: "{app}"; Flags: ignoreversion
Source: "{#Root}\README.md"; DestDir: "{app}"; Flags: ignoreversion isreadme

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\photolabel.exe"; IconFilename: "{app}\photolabel.ico"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\photolabel.exe"; IconFilename: "{app}\photolabel.ico"; Tasks: desktopicon

[Registry]
; "Open with photolabel" on folders: the folder is passed as the first argument and added to
; the library when the window opens.
Root: HKA; Subkey: "Software\Classes\Directory\shell\photolabel"; ValueType: string; ValueName: ""; ValueData: "Open with photolabel"; Flags: uninsdeletekey; Tasks: openwith
Root: HKA; Subkey: "Software\Classes\Directory\shell\photolabel"; ValueType: string; ValueName: "Icon"; ValueData: "{app}\photolabel.exe"; Tasks: openwith
Root: HKA; Subkey: "Software\Classes\Directory\shell\photolabel\command"; ValueType: string; ValueName: ""; ValueData: """{app}\photolabel.exe"" ""%1"""; Tasks: openwith

[Run]
Filename: "{app}\photolabel.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
