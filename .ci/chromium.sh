# Sourced by .ci/run. `ensure_chromium` makes sure the tests can open the HTML
# report in headless Chromium: Debian's package, installed when missing (as
# root, as CI runs). Nothing happens when a Chromium is already there, or when
# ADAPTSEND_TEST_CHROMIUM names one.

_chromium_found() {
    if [ -n "${ADAPTSEND_TEST_CHROMIUM:-}" ]; then
        [ -x "$ADAPTSEND_TEST_CHROMIUM" ]
        return
    fi
    command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
        || command -v google-chrome >/dev/null || command -v google-chrome-stable >/dev/null
}

ensure_chromium() {
    if _chromium_found; then
        echo "chromium is installed"
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "Chromium is not installed; install Debian's chromium package, or set" \
            "ADAPTSEND_TEST_CHROMIUM to a Chromium or Chrome binary." >&2
        return 1
    fi
    echo "installing chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium >/dev/null
}
