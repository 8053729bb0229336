/* The console's only script of its own: draws the charts from JSON data blocks in the page.
   No inline script or event handler exists anywhere (the CSP forbids them). For tests, the
   drawn chart's objects are kept in window.consoleChart / window.consoleEquity so their data
   can be queried from the page (series.data(), markers.markers(), series.priceLines()). */
(function () {
  "use strict";

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  // The library's own logo injects a <style> element, which the CSP refuses; the pages carry
  // the NOTICE text and the link to tradingview.com instead (see .attribution).
  function baseOptions() {
    return {
      autoSize: true,
      layout: { attributionLogo: false, textColor: "#0f172a", background: { color: "#ffffff" } },
      grid: { vertLines: { color: "#eef2f7" }, horzLines: { color: "#eef2f7" } },
      timeScale: { timeVisible: true, secondsVisible: true },
      rightPriceScale: { borderVisible: false }
    };
  }

  function drawPlanChart() {
    var L = window.LightweightCharts;
    var el = document.getElementById("chart");
    var d = readJSON("chart-data");
    if (!L || !el || !d) { return; }
    if (window.consoleChart) { window.consoleChart.chart.remove(); }
    var chart = L.createChart(el, baseOptions());
    var price = chart.addSeries(L.LineSeries, { color: "#0f172a", lineWidth: 2, title: d.symbol });
    price.setData(d.price);
    var stop = chart.addSeries(L.LineSeries, {
      color: "#dc2626", lineWidth: 2, lineType: L.LineType.WithSteps, title: "stop",
      priceLineVisible: false, lastValueVisible: false
    });
    stop.setData(d.stop);
    d.lines.forEach(function (line) {
      price.createPriceLine({
        price: line.price, color: line.color, lineWidth: 1, lineStyle: L.LineStyle.Dashed,
        axisLabelVisible: true, title: line.title
      });
    });
    var markers = L.createSeriesMarkers(price, d.markers);
    chart.timeScale().fitContent();
    window.consoleChart = { chart: chart, price: price, stop: stop, markers: markers, source: d.source };
    document.body.dataset.chart = "drawn";
  }

  function drawEquity() {
    var L = window.LightweightCharts;
    var el = document.getElementById("equity");
    var d = readJSON("equity-data");
    if (!L || !el || !d) { return; }
    if (window.consoleEquity) { window.consoleEquity.chart.remove(); }
    var chart = L.createChart(el, baseOptions());
    var equity = chart.addSeries(L.BaselineSeries, { baseValue: { type: "price", price: 0 }, lineWidth: 2 });
    equity.setData(d);
    chart.timeScale().fitContent();
    window.consoleEquity = { chart: chart, equity: equity };
    document.body.dataset.equity = "drawn";
  }

  function init() {
    drawPlanChart();
    drawEquity();
  }

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.querySelector && event.target.querySelector("#chart-data")) {
      drawPlanChart();
    }
  });
})();
