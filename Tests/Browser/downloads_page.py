"""Chromium's downloads page (chrome://downloads), as the browser tests use it."""


def resume_interrupted(driver):
    """Opens chrome://downloads in DRIVER and presses Resume on every interrupted download, as a person
    would after a network or server failure."""
    driver.get("chrome://downloads")
    driver.execute_script("""
        const manager = document.querySelector("downloads-manager");
        for (const item of manager.shadowRoot.querySelectorAll("downloads-item")) {
            // The button's id as Chromium 120 and later name it, and as earlier ones did.
            const button = item.shadowRoot.querySelector("#pause-or-resume, #pauseOrResume");
            if (button && /resume/i.test(button.textContent)) button.click();
        }""")
