"""The Qt shell: main window, docks, menus, job runner, log, screenshots."""
