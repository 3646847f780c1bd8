"""서울의 가상 온라인 쇼핑몰 '한강마켓' 데이터 / Synthetic data of 'Hangang Market', an online shop in Seoul.

시드가 같으면 언제나 같은 표가 나오고, 아무것도 내려받지 않습니다. 모든 숫자는 실습용으로 지어낸 값입니다
(구별 비중은 서울 인구를 대략 따르고, 가격은 흔한 원화 가격대입니다). 실제 사람이나 회사와 관계없습니다.
Seeded and offline: the same seed always gives the same tables, nothing is downloaded. Every number is
made up for practice (district weights roughly follow Seoul's population, prices are typical KRW prices).

- make_shop(n_customers, seed) -> (customers, products, orders)
- make_messy_orders(customers, orders, seed) -> the orders as a careless system would export them
- make_campaign(customers, orders, seed) -> a randomised coupon campaign sent after the last order
"""

import numpy as np
import pandas as pd

# 서울 25개 구와 대략의 인구(만 명) / Seoul's 25 districts with their rough population (10,000s)
# fmt: off
DISTRICTS = pd.DataFrame(
    [
        ("송파구", "Songpa", 66), ("강서구", "Gangseo", 56), ("강남구", "Gangnam", 54),
        ("노원구", "Nowon", 50), ("관악구", "Gwanak", 49), ("은평구", "Eunpyeong", 46),
        ("강동구", "Gangdong", 46), ("양천구", "Yangcheon", 44), ("성북구", "Seongbuk", 43),
        ("서초구", "Seocho", 41), ("구로구", "Guro", 40), ("중랑구", "Jungnang", 38),
        ("동작구", "Dongjak", 38), ("영등포구", "Yeongdeungpo", 38), ("마포구", "Mapo", 37),
        ("광진구", "Gwangjin", 34), ("동대문구", "Dongdaemun", 34), ("도봉구", "Dobong", 31),
        ("서대문구", "Seodaemun", 31), ("강북구", "Gangbuk", 29), ("성동구", "Seongdong", 28),
        ("금천구", "Geumcheon", 23), ("용산구", "Yongsan", 22), ("종로구", "Jongno", 14),
        ("중구", "Jung", 12),
    ],
    columns=["district", "district_en", "population_10k"],
)
# fmt: on
DISTRICT_EN = dict(zip(DISTRICTS["district"], DISTRICTS["district_en"], strict=True))

# 상품 목록 (가격: 원) / the catalogue (prices in KRW)
# fmt: off
PRODUCTS = pd.DataFrame(
    [
        ("P01", "제주 감귤 3kg", "식품", 19900), ("P02", "유기농 현미 4kg", "식품", 24000),
        ("P03", "곱창김 선물세트", "식품", 29000), ("P04", "콜드브루 원액 1L", "식품", 15900),
        ("P05", "닭가슴살 30팩", "식품", 39000), ("P06", "주방세제 리필 6개", "생활용품", 12900),
        ("P07", "극세사 이불", "생활용품", 69000), ("P08", "디퓨저 세트", "생활용품", 35000),
        ("P09", "텀블러 500ml", "생활용품", 25000), ("P10", "수납 정리함 3종", "생활용품", 21000),
        ("P11", "선크림 SPF50", "뷰티", 22000), ("P12", "쿠션 팩트", "뷰티", 32000),
        ("P13", "마스크팩 10매", "뷰티", 15000), ("P14", "핸드크림 세트", "뷰티", 18000),
        ("P15", "기능성 티셔츠", "패션", 19900), ("P16", "경량 패딩 조끼", "패션", 49000),
        ("P17", "에코백", "패션", 15000), ("P18", "러닝화", "패션", 89000),
        ("P19", "무선 이어폰", "전자기기", 89000), ("P20", "보조배터리 10000mAh", "전자기기", 32000),
        ("P21", "블루투스 키보드", "전자기기", 59000), ("P22", "USB-C 충전기", "전자기기", 25000),
        ("P23", "요가 매트", "스포츠", 29000), ("P24", "캠핑 의자", "스포츠", 45000),
        ("P25", "폼롤러", "스포츠", 19000),
    ],
    columns=["product_id", "product_name", "category", "price"],
)
# fmt: on
CATEGORIES = ["식품", "생활용품", "뷰티", "패션", "전자기기", "스포츠"]
CATEGORY_EN = dict(
    zip(
        CATEGORIES, ["Food", "Household", "Beauty", "Fashion", "Electronics", "Sports"], strict=True
    )
)
CHANNELS = ["검색광고", "SNS광고", "지인추천", "직접방문"]
CHANNEL_EN = dict(zip(CHANNELS, ["Search ads", "Social ads", "Referral", "Direct"], strict=True))
# 월별 주문 계절성: 설(1월)·추석(9월) 선물, 11월 빅세일, 12월 연말 / monthly seasonality
SEASON = np.array([1.1, 0.9, 0.95, 0.95, 1.0, 0.95, 0.9, 0.9, 1.1, 1.0, 1.4, 1.2])


def make_customers(n=2000, seed=42, start="2023-01-01", end="2024-12-31"):
    """고객 표: 가입일, 성별, 나이, 사는 구, 가입 경로.

    Customers: signup date, gender, age, district and acquisition channel.
    """
    rng = np.random.default_rng([seed, 0])
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    days = (end - start).days + 1
    # 가입자는 시간이 갈수록 늘어남 (마지막 달이 첫 달의 약 3배) / signups grow: the last month ~3x the first
    u = rng.random(n)
    offsets = np.sort(np.floor(days * (np.sqrt(1 + 8 * u) - 1) / 2).astype(int))
    weights = DISTRICTS["population_10k"] / DISTRICTS["population_10k"].sum()
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(1, n + 1)],
            "signup_date": start + pd.to_timedelta(offsets, unit="D"),
            "gender": rng.choice(["여", "남"], size=n, p=[0.57, 0.43]),
            "age": np.clip(rng.normal(37, 10, size=n).round(), 19, 69).astype(int),
            "district": rng.choice(DISTRICTS["district"].to_numpy(), size=n, p=weights.to_numpy()),
            "channel": rng.choice(CHANNELS, size=n, p=[0.35, 0.30, 0.15, 0.20]),
        }
    )


def _category_weights(gender, age, month):
    """주문마다 카테고리 선택 확률 (행 = 주문) / per-order category probabilities."""
    w = np.tile([0.28, 0.22, 0.14, 0.14, 0.12, 0.10], (len(gender), 1))
    female = gender == "여"
    w[female, 2] *= 1.9  # 뷰티 / beauty
    w[~female, 4] *= 1.8  # 전자기기 / electronics
    w[~female, 5] *= 1.3  # 스포츠 / sports
    w[age >= 45, 0] *= 1.6  # 식품 / food
    w[age < 30, 3] *= 1.5  # 패션 / fashion
    w[np.isin(month, [1, 9]), 0] *= 1.8  # 명절 선물 / holiday gift sets
    return w / w.sum(axis=1, keepdims=True)


def make_orders(customers, seed=42, end="2024-12-31"):
    """주문 표 (주문 한 건 = 상품 한 종류) / orders, one product per order.

    고객마다 구매 빈도와 이탈 시점이 달라서 재구매·이탈·코호트 분석이 의미 있게 나옵니다.
    Customers differ in how often they buy and when they stop, so repeat, churn and cohort
    analyses show realistic patterns.
    """
    rng = np.random.default_rng([seed, 1])
    end = pd.Timestamp(end) + pd.Timedelta(days=1)
    n = len(customers)
    channel = customers["channel"].to_numpy()
    signup = customers["signup_date"].to_numpy(dtype="datetime64[ns]")
    # 첫 구매 여부와 시점 / whether and when the first order happens
    p_buy = pd.Series(channel).map(
        {"검색광고": 0.85, "SNS광고": 0.72, "지인추천": 0.93, "직접방문": 0.88}
    )
    buys = rng.random(n) < p_buy.to_numpy()
    first = signup + (rng.exponential(6, size=n) * 86400e9).astype("timedelta64[ns]")
    # 활동 기간과 월 구매 빈도 / how long each customer stays and how often they buy
    loyalty = pd.Series(channel).map(
        {"검색광고": 1.0, "SNS광고": 0.7, "지인추천": 1.5, "직접방문": 1.2}
    )
    life_days = rng.exponential(240, size=n) * loyalty.to_numpy()
    last = np.minimum(first + (life_days * 86400e9).astype("timedelta64[ns]"), np.datetime64(end))
    rate = rng.gamma(1.3, 1 / 1.3, size=n) * 0.65  # 월 평균 재구매 수 / repeat orders per month
    months = np.clip((last - first) / np.timedelta64(1, "D") / 30.4, 0, None)
    n_repeat = rng.poisson(rate * months * SEASON.max() / SEASON.mean())
    n_repeat[~buys] = 0
    first_ok = buys & (first < np.datetime64(end))
    # 재구매 날짜: 활동 기간 안에서 고르고 계절성에 따라 솎아냄 / repeat dates, thinned by season
    who = np.repeat(np.arange(n), n_repeat)
    span = (last - first)[who] / np.timedelta64(1, "s")
    when = first[who] + (rng.random(len(who)) * span * 1e9).astype("timedelta64[ns]")
    month = pd.DatetimeIndex(when).month.to_numpy()
    keep = rng.random(len(who)) < SEASON[month - 1] / SEASON.max()
    who = np.concatenate([np.flatnonzero(first_ok), who[keep]])
    when = np.concatenate([first[first_ok], when[keep]])
    # 시각: 저녁에 주문이 많음 / time of day: evenings are busiest
    hour_p = np.array(
        [2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 6, 5, 5, 5, 6, 7, 8, 9, 9, 7, 4], float
    )
    hours = rng.choice(24, size=len(who), p=hour_p / hour_p.sum())
    when = pd.DatetimeIndex(when).normalize() + pd.to_timedelta(
        hours * 3600 + rng.integers(0, 3600, size=len(who)), unit="s"
    )
    m = len(who)
    gender = customers["gender"].to_numpy()[who]
    age = customers["age"].to_numpy()[who]
    probs = _category_weights(gender, age, when.month.to_numpy())
    cat = np.minimum((probs.cumsum(axis=1) < rng.random((m, 1))).sum(axis=1), len(CATEGORIES) - 1)
    product = np.empty(m, dtype=object)
    for ci, name in enumerate(CATEGORIES):
        items = PRODUCTS.loc[PRODUCTS["category"] == name, "product_id"].to_numpy()
        rows = np.flatnonzero(cat == ci)
        product[rows] = rng.choice(items, size=len(rows))
    info = PRODUCTS.set_index("product_id").loc[product]
    food = info["category"].to_numpy() == "식품"
    quantity = np.minimum(1 + rng.poisson(np.where(food, 0.5, 0.2)), 5)
    nov = when.month.to_numpy() == 11
    discount = np.where(rng.random(m) < np.where(nov, 0.45, 0.12), 0.1, 0.0)
    discount[(discount > 0) & (rng.random(m) < 0.3)] = 0.2
    price = info["price"].to_numpy()
    orders = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy()[who],
            "order_date": when,
            "product_id": product,
            "product_name": info["product_name"].to_numpy(),
            "category": info["category"].to_numpy(),
            "unit_price": price,
            "quantity": quantity,
            "discount": discount,
            "amount": (np.round(price * quantity * (1 - discount), -1)).astype(int),
            "payment": rng.choice(["카드", "간편결제", "계좌이체"], size=m, p=[0.55, 0.35, 0.10]),
            "status": rng.choice(["완료", "취소", "반품"], size=m, p=[0.94, 0.04, 0.02]),
        }
    )
    orders = orders[orders["order_date"] < end].sort_values("order_date", kind="stable")
    orders.insert(0, "order_id", [f"O{i:07d}" for i in range(1, len(orders) + 1)])
    return orders.reset_index(drop=True)


def make_shop(n_customers=2000, seed=42, start="2023-01-01", end="2024-12-31"):
    """(customers, products, orders): 한강마켓의 고객·상품·주문 표 / the shop's three tables."""
    customers = make_customers(n_customers, seed, start, end)
    return customers, PRODUCTS.copy(), make_orders(customers, seed, end)


def make_messy_orders(customers, orders, seed=42, n=600):
    """정리 실습용 '날것' 주문 내보내기 / a raw, messy export of `n` orders for cleaning practice.

    열 이름은 한국어, 숫자와 날짜는 글자, 표기가 제각각인 구 이름, 중복 행, 빠진 값, 자릿수를
    잘못 입력한 금액이 섞여 있습니다. Korean column names, numbers and dates stored as text,
    inconsistent district spellings, duplicated rows, missing values and mistyped amounts.
    """
    rng = np.random.default_rng([seed, 2])
    raw = orders.sample(n=min(n, len(orders)), random_state=seed).sort_values("order_date")
    raw = raw.merge(customers[["customer_id", "district"]], on="customer_id", how="left")
    k = len(raw)
    dates = raw["order_date"]
    style = rng.choice(3, size=k, p=[0.7, 0.2, 0.1])
    date_text = np.where(
        style == 0,
        dates.dt.strftime("%Y-%m-%d %H:%M"),
        np.where(style == 1, dates.dt.strftime("%Y/%m/%d"), dates.dt.strftime("%Y.%m.%d")),
    )
    district = raw["district"].to_numpy().astype(object)
    variant = rng.choice(4, size=k, p=[0.7, 0.1, 0.1, 0.1])
    district = np.where(variant == 1, "서울 " + district, district)
    district = np.where(variant == 2, "서울특별시 " + district, district)
    district = np.where(variant == 3, district + " ", district)
    amount = raw["amount"].to_numpy().copy()
    typo = rng.random(k) < 0.01
    amount[typo] = amount[typo] * 100  # 0을 두 개 더 입력 / two extra zeros typed
    amount_text = np.where(
        rng.random(k) < 0.5, [f"{a:,}원" for a in amount], amount.astype(str)
    ).astype(object)
    qty_text = np.where(rng.random(k) < 0.2, [f"{q}개" for q in raw["quantity"]], raw["quantity"])
    out = pd.DataFrame(
        {
            "주문번호": raw["order_id"].to_numpy(),
            "주문일시": date_text,
            "고객ID": raw["customer_id"].to_numpy(),
            "배송지": district,
            "상품명": np.where(rng.random(k) < 0.1, " " + raw["product_name"], raw["product_name"]),
            "카테고리": raw["category"].to_numpy(),
            "수량": qty_text.astype(object),
            "결제금액": amount_text,
            "주문상태": raw["status"].to_numpy(),
        }
    )
    out.loc[rng.random(k) < 0.03, "배송지"] = None  # 주소 누락 / address missing
    out.loc[rng.random(k) < 0.02, "결제금액"] = None  # 결제 기록 누락 / payment not logged
    dupes = out.sample(frac=0.03, random_state=seed)  # 두 번 내보낸 행 / rows exported twice
    out = pd.concat([out, dupes]).sort_values("주문번호", kind="stable")
    return out.reset_index(drop=True)


def make_campaign(customers, orders, seed=42, sent="2025-01-02", days=14):
    """쿠폰 캠페인 결과 (무작위 배정) / a randomised coupon campaign and what followed.

    `sent` 날짜에 가입 고객의 절반에게 무작위로 5,000원 쿠폰을 보냈고, 다른 절반은 비교군입니다.
    열: 고객 ID, 캠페인 직전의 RFM (최근성 일수, 구매 횟수, 구매 금액), 배정 그룹, `days`일 안의 구매
    여부와 매출. Half of the customers got a KRW 5,000 coupon at random on `sent`; the rest are the
    control group. Columns: RFM before the campaign, group, purchase and revenue within `days` days.
    """
    rng = np.random.default_rng([seed, 3])
    sent = pd.Timestamp(sent)
    done = orders[(orders["status"] == "완료") & (orders["order_date"] < sent)]
    rfm = done.groupby("customer_id").agg(
        last=("order_date", "max"), frequency=("order_id", "count"), monetary=("amount", "sum")
    )
    base = customers.loc[customers["signup_date"] < sent, ["customer_id"]].merge(
        rfm, left_on="customer_id", right_index=True, how="left"
    )
    base["recency_days"] = (sent - base["last"]).dt.days
    base["frequency"] = base["frequency"].fillna(0).astype(int)
    base["monetary"] = base["monetary"].fillna(0).astype(int)
    k = len(base)
    group = np.where(rng.permutation(k) < k // 2, "coupon", "control")
    r = base["recency_days"].fillna(999).to_numpy()
    f = base["frequency"].to_numpy()
    # 평소 구매 확률: 최근에 자주 산 고객일수록 높음 / baseline: recent, frequent buyers buy anyway
    p0 = np.clip(0.02 + 0.35 * np.exp(-r / 60) + 0.02 * np.minimum(f, 10), 0, 0.8)
    # 쿠폰 효과: 한동안 뜸한 고객에게 가장 큼 / the coupon helps lapsing customers most
    lift = np.where(r <= 30, 0.02, np.where(r <= 120, 0.12, np.where(r <= 365, 0.06, 0.015)))
    p = np.clip(p0 + np.where(group == "coupon", lift, 0.0), 0, 0.95)
    bought = rng.random(k) < p
    spend = np.where(bought, np.round(rng.lognormal(np.log(38000), 0.5, size=k), -2), 0)
    return pd.DataFrame(
        {
            "customer_id": base["customer_id"].to_numpy(),
            "recency_days": base["recency_days"].to_numpy(),
            "frequency": f,
            "monetary": base["monetary"].to_numpy(),
            "group": group,
            "purchased": bought,
            "revenue": spend.astype(int),
        }
    )
