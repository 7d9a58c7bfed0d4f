"""Headless Chromium for the browser tests, saving downloads to a folder, and its downloads page."""
from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def chromium(downloads, window_size="1400,1050"):
    """Debian's headless Chromium under chromedriver, saving every download to DOWNLOADS unasked."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={window_size}"]:
        options.add_argument(argument)
    options.add_experimental_option("prefs", {
        "download.default_directory": downloads,
        "download.prompt_for_download": False,
        "safebrowsing.enabled": False,
    })
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    return driver


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
